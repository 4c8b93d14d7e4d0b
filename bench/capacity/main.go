// The capacity load driver (issue 21): viewers of a published lesson through the gateway, each doing
// what the web client does (web/src): at start the Watch page's four queries (lesson, playback — the
// milestone lookup —, resume, preferences) and, while signed in, progress's SSE stream; a telemetry
// batch every 10 s (POST /api/analytics/v1/events {device_id, events: [video.heartbeat …]}, Bearer
// token, JSON); at each milestone the milestone's questions, the student's attempts and one answer per
// question (question.shown / question.answered in the next batch); at the lesson's end a reconnect
// (the start-up queries again, resume among them). Teachers hold the lesson's live class stream.
// Steps add viewers (existing ones keep going); each step prints one JSON line when measured.
//
//	capacity < config.json
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type Question struct {
	ID     string          `json:"id"`
	Answer json.RawMessage `json:"answer"`
}
type Milestone struct {
	ID        string     `json:"id"`
	Timestamp float64    `json:"timestamp"`
	Questions []Question `json:"questions"`
}
type Config struct {
	Gateway        string      `json:"gateway"`
	LessonID       string      `json:"lesson_id"`
	VideoID        string      `json:"video_id"`
	Duration       float64     `json:"duration"`
	LessonSeconds  float64     `json:"lesson_seconds"` // a viewer's pass through the lesson, wall time
	Milestones     []Milestone `json:"milestones"`
	Tokens         []string    `json:"tokens"` // one student each
	TeacherToken   string      `json:"teacher_token"`
	Steps          []int       `json:"steps"`
	TeachersPer    int         `json:"teachers_per"` // one teacher stream per this many viewers
	StudentStreams bool        `json:"student_streams"`
	RampSeconds    float64     `json:"ramp_seconds"`
	MeasureSeconds float64     `json:"measure_seconds"`
	MaxConns       int         `json:"max_conns"`
	StopP99Ms      float64     `json:"stop_p99_ms"` // stop after a step whose answer/lookup/resume p99 exceeds this
}

type stats struct {
	mu        sync.Mutex
	on        bool
	lat       map[string][]float64
	status    map[string]map[int]int
	errors    map[string]int
	sseEvents int64
}

var st = stats{lat: map[string][]float64{}, status: map[string]map[int]int{}, errors: map[string]int{}}
var cfg Config
var client *http.Client
var streamClient *http.Client
var streamsOpen, streamsFailed int64

func note(op string, start time.Time, code int, err error) {
	ms := float64(time.Since(start).Microseconds()) / 1000
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.on {
		return
	}
	if err != nil {
		st.errors[op]++
		return
	}
	st.lat[op] = append(st.lat[op], ms)
	if st.status[op] == nil {
		st.status[op] = map[int]int{}
	}
	st.status[op][code]++
}

func call(op, method, path, token string, body []byte) {
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, _ := http.NewRequest(method, cfg.Gateway+path, reader)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		note(op, start, resp.StatusCode, nil)
		return
	}
	note(op, start, 0, err)
}

func stream(path, token string) {
	for {
		req, _ := http.NewRequest("GET", cfg.Gateway+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := streamClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			atomic.AddInt64(&streamsFailed, 1)
			if resp != nil {
				resp.Body.Close()
			}
			time.Sleep(time.Duration(2+rand.Intn(3)) * time.Second) // the client's backoff
			continue
		}
		atomic.AddInt64(&streamsOpen, 1)
		scanner := bufio.NewScanner(resp.Body)
		for scanner.Scan() {
			if bytes.HasPrefix(scanner.Bytes(), []byte("event:")) {
				atomic.AddInt64(&st.sseEvents, 1)
			}
		}
		resp.Body.Close()
		atomic.AddInt64(&streamsOpen, -1)
		time.Sleep(time.Second)
	}
}

func uuid4() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func startup(token string) {
	call("lesson", "GET", "/api/content/v1/lessons/"+cfg.LessonID, token, nil)
	call("lookup", "GET", "/api/content/v1/videos/"+cfg.VideoID+"/playback", token, nil)
	call("resume", "GET", "/api/progress/v1/resume?video_id="+cfg.VideoID, token, nil)
	call("preferences", "GET", "/api/identity/v1/users/me/preferences", token, nil)
}

func viewer(index int, delay time.Duration) {
	token := cfg.Tokens[index%len(cfg.Tokens)]
	device := fmt.Sprintf("cap-%d-%s", index, uuid4()[:8])
	time.Sleep(delay)
	if cfg.StudentStreams {
		go stream("/api/progress/v1/stream", token)
	}
	startup(token)
	scale := cfg.LessonSeconds / cfg.Duration
	wall := rand.Float64() * cfg.LessonSeconds // where in the lesson this viewer is
	var queued []map[string]any
	tick := time.NewTicker(10 * time.Second)
	for range tick.C {
		before := wall
		wall += 10
		now := time.Now().UTC().Format(time.RFC3339Nano)
		from, to := before/scale, wall/scale
		if to > cfg.Duration {
			to = cfg.Duration
		}
		queued = append(queued, map[string]any{"id": uuid4(), "occurred_at": now, "type": "video.heartbeat",
			"lesson_id": cfg.LessonID, "video_id": cfg.VideoID, "position": to,
			"played": []map[string]float64{{"start": from, "end": to}}, "playback_rate": 1})
		for _, m := range cfg.Milestones {
			at := m.Timestamp * scale
			if before < at && wall >= at {
				call("questions", "GET", "/api/assessment/v1/milestones/"+m.ID+"/questions", token, nil)
				call("attempts", "GET", "/api/assessment/v1/attempts?milestone_id="+m.ID+"&limit=100", token, nil)
				for _, q := range m.Questions {
					queued = append(queued, map[string]any{"id": uuid4(), "occurred_at": now, "type": "question.shown",
						"lesson_id": cfg.LessonID, "question_id": q.ID, "milestone_id": m.ID})
					body, _ := json.Marshal(map[string]any{"answer": q.Answer, "time_taken_ms": 6000})
					call("answer", "POST", "/api/assessment/v1/questions/"+q.ID+"/attempts", token, body)
					queued = append(queued, map[string]any{"id": uuid4(), "occurred_at": now, "type": "question.answered",
						"lesson_id": cfg.LessonID, "question_id": q.ID, "time_to_answer_ms": 6000})
				}
			}
		}
		body, _ := json.Marshal(map[string]any{"device_id": device, "events": queued})
		queued = queued[:0]
		call("telemetry", "POST", "/api/analytics/v1/events", token, body)
		if wall >= cfg.LessonSeconds { // the end of the lesson: the page again, resume among it
			wall = 0
			startup(token)
		}
	}
}

func pct(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)))
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

func emit(v map[string]any) {
	line, _ := json.Marshal(v)
	fmt.Println(string(line))
	os.Stdout.Sync()
}

func main() {
	if err := json.NewDecoder(os.Stdin).Decode(&cfg); err != nil {
		panic(err)
	}
	transport := &http.Transport{MaxIdleConns: cfg.MaxConns, MaxIdleConnsPerHost: cfg.MaxConns,
		MaxConnsPerHost: cfg.MaxConns, IdleConnTimeout: 60 * time.Second}
	client = &http.Client{Transport: transport, Timeout: 30 * time.Second}
	streamClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableKeepAlives: true}}
	started, teachers := 0, 0
	for i, n := range cfg.Steps {
		ramp := time.Duration(cfg.RampSeconds * float64(time.Second))
		for ; started < n; started++ {
			go viewer(started, time.Duration(rand.Int63n(int64(ramp)+1)))
		}
		for ; cfg.TeachersPer > 0 && teachers < (n+cfg.TeachersPer-1)/cfg.TeachersPer; teachers++ {
			go stream("/api/progress/v1/lessons/"+cfg.LessonID+"/stream", cfg.TeacherToken)
		}
		time.Sleep(ramp + 10*time.Second) // every new viewer has started and sent a first batch
		st.mu.Lock()
		st.on, st.lat, st.status, st.errors = true, map[string][]float64{}, map[string]map[int]int{}, map[string]int{}
		st.mu.Unlock()
		atomic.StoreInt64(&st.sseEvents, 0)
		cpu0, t0 := cpuSeconds(), time.Now()
		emit(map[string]any{"event": "measure_start", "step": i, "viewers": n, "teachers": teachers})
		time.Sleep(time.Duration(cfg.MeasureSeconds * float64(time.Second)))
		st.mu.Lock()
		st.on = false
		elapsed := time.Since(t0).Seconds()
		ops := map[string]any{}
		worst := 0.0
		for op, samples := range st.lat {
			sort.Float64s(samples)
			p99 := pct(samples, 0.99)
			ops[op] = map[string]any{"n": len(samples), "rate": float64(len(samples)) / elapsed, "p50": pct(samples, 0.5),
				"p95": pct(samples, 0.95), "p99": p99, "status": st.status[op], "errors": st.errors[op]}
			if (op == "answer" || op == "lookup" || op == "resume") && p99 > worst {
				worst = p99
			}
		}
		for op, n := range st.errors {
			if _, ok := ops[op]; !ok {
				ops[op] = map[string]any{"n": 0, "errors": n}
			}
		}
		st.mu.Unlock()
		emit(map[string]any{"event": "step", "step": i, "viewers": n, "teachers": teachers, "seconds": elapsed,
			"ops": ops, "driver_cpu_cores": (cpuSeconds() - cpu0) / elapsed, "streams_open": atomic.LoadInt64(&streamsOpen),
			"streams_failed": atomic.LoadInt64(&streamsFailed), "sse_events": atomic.LoadInt64(&st.sseEvents)})
		if cfg.StopP99Ms > 0 && worst > cfg.StopP99Ms {
			break
		}
	}
}
