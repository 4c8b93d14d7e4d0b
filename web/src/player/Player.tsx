// The player: the video from its signed URL, captions as a real <track>, milestones on the
// timeline, a pause at each milestone with its questions, seeks checked against what the
// server allows, and telemetry (heartbeats every 10 s with the ranges played).
import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useRef, useState, type ChangeEvent } from "react";
import { identity, unwrap } from "../api/client";
import { keys } from "../api/queries";
import { telemetry, track } from "../telemetry";
import { useCaptionTrack } from "./captions";
import { QuestionPanel } from "./QuestionPanel";
import { addRange, clock, contiguousEnd, decideSeek, GAP, milestoneToPause, nextGate, type Mark } from "./rules";

export interface PlayerProps {
  lessonId: string;
  videoId: string;
  url: string;
  duration: number;
  marks: (Mark & { title: string })[];
  captions: { language: string; label: string; path: string }[];
  resume: {
    position: number;
    watched: number[][];
    furthest_allowed: number;
    seek_policy: string;
    settled: string[];
    completed: boolean;
  };
  preferences: { playback_speed: number; captions_enabled: boolean; captions_language?: string };
}

const HEARTBEAT_MS = 10_000;
const SPEEDS = [0.5, 0.75, 1, 1.25, 1.5, 1.75, 2];

export function Player(props: PlayerProps) {
  const { lessonId, videoId, marks } = props;
  const video = useRef<HTMLVideoElement>(null);
  const queryClient = useQueryClient();
  const [time, setTime] = useState(0);
  const [duration, setDuration] = useState(props.duration);
  const [playing, setPlaying] = useState(false);
  const [rate, setRate] = useState(props.preferences.playback_speed || 1);
  const [captionsOn, setCaptionsOn] = useState(props.preferences.captions_enabled);
  const [settled, setSettled] = useState<Set<string>>(() => new Set(props.resume.settled));
  const [watched, setWatched] = useState<[number, number][]>(() =>
    props.resume.watched.reduce<[number, number][]>((all, r) => addRange(all, r[0] ?? 0, r[1] ?? 0), []),
  );
  const [playedUpTo, setPlayedUpTo] = useState(() => contiguousEnd(props.resume.watched));
  const [active, setActive] = useState<{ mark: Mark & { title: string }; review: boolean } | null>(null);
  const [notice, setNotice] = useState("");
  const [offerResume, setOfferResume] = useState(props.resume.position > 3 && !props.resume.completed);
  const last = useRef(0); // the position at the previous tick, to see milestones crossed
  const segmentStart = useRef<number | null>(null); // where the range playing now began
  const pending = useRef<[number, number][]>([]); // ranges played since the last heartbeat
  // Where a seek the player itself makes lands: that seek is not checked again. (A position, not a
  // flag: one range input change can fire several seeking events.)
  const correcting = useRef<number | null>(null);
  // The signed URL is refreshed every few minutes; the element keeps the one it loaded (a new src
  // would reload the video) and takes the fresh one only if the old one stops working.
  const [src, setSrc] = useState(props.url);
  const restoreAt = useRef<number | null>(null);
  const playRequested = useRef<number | null>(null); // when play was asked for: the startup time
  const captionUrl = useCaptionTrack(props.captions, props.preferences.captions_language);
  const caption = props.captions[0];

  // Another device may settle a milestone meanwhile: the live stream refreshes resume.
  useEffect(() => {
    setSettled((all) => (props.resume.settled.every((id) => all.has(id)) ? all : new Set([...all, ...props.resume.settled])));
  }, [props.resume.settled]);

  const rules = useMemo(
    () => ({ seekPolicy: props.resume.seek_policy, furthestAllowed: props.resume.furthest_allowed, playedUpTo, marks, settled }),
    [props.resume.seek_policy, props.resume.furthest_allowed, playedUpTo, marks, settled],
  );

  // Both take the element itself: on unmount React has already cleared the ref.
  const closeSegment = useCallback((element: HTMLVideoElement | null = video.current) => {
    if (!element || segmentStart.current === null) return;
    const end = element.currentTime;
    if (end > segmentStart.current) {
      pending.current = addRange(pending.current, segmentStart.current, end);
      setWatched((all) => addRange(all, segmentStart.current as number, end));
    }
    segmentStart.current = element.paused ? null : end;
  }, []);

  const heartbeat = useCallback((element: HTMLVideoElement | null = video.current) => {
    if (!element) return;
    closeSegment(element);
    if (!pending.current.length && element.paused) return;
    track({
      type: "video.heartbeat",
      lesson_id: lessonId,
      video_id: videoId,
      position: element.currentTime,
      played: pending.current.map(([start, end]) => ({ start, end })),
      playback_rate: element.playbackRate,
    });
    pending.current = [];
  }, [closeSegment, lessonId, videoId]);

  // Heartbeats while the player is open; a last one when it closes.
  useEffect(() => {
    const element = video.current;
    const timer = setInterval(() => heartbeat(), HEARTBEAT_MS);
    return () => {
      clearInterval(timer);
      heartbeat(element);
      void telemetry.flush(); // leaving the player: what was watched counts on the next device at once
    };
  }, [heartbeat]);

  // The person's speed, and captions shown or hidden, follow their preferences.
  useEffect(() => {
    if (video.current) video.current.playbackRate = rate;
  }, [rate]);
  useEffect(() => {
    const tracks = video.current?.textTracks;
    if (tracks?.[0]) tracks[0].mode = captionsOn ? "showing" : "hidden";
  }, [captionsOn, captionUrl]);

  const savePreference = (change: Record<string, unknown>) => {
    void unwrap(identity.PATCH("/v1/users/me/preferences", { body: change }))
      .then(() => queryClient.invalidateQueries({ queryKey: keys.preferences }))
      .catch(() => setNotice("Your preference could not be saved; it applies to this video."));
  };

  const pauseAt = (mark: Mark & { title: string }) => {
    const element = video.current;
    if (!element) return;
    element.pause();
    correcting.current = mark.timestamp;
    element.currentTime = mark.timestamp;
    last.current = mark.timestamp;
    setActive({ mark, review: false });
  };

  // Milestones are checked every 100 ms while playing: timeupdate alone fires only every 250 ms.
  useEffect(() => {
    if (!playing) return;
    const timer = setInterval(() => {
      const element = video.current;
      if (!element) return;
      const now = element.currentTime;
      const crossed = milestoneToPause(last.current, now, marks, settled);
      if (crossed) pauseAt(crossed as Mark & { title: string });
      else last.current = now;
      // Continuous playback from within the watched edge moves it; playing a later stretch does not.
      setPlayedUpTo((edge) =>
        segmentStart.current !== null && segmentStart.current <= edge + GAP
          ? Math.max(edge, Math.min(now, nextGate(marks, settled)?.timestamp ?? Infinity))
          : edge,
      );
    }, 100);
    return () => clearInterval(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [playing, marks, settled]);

  // A seek is checked where it starts: the timeline and the resume offer call seekTo, and a refused
  // one goes where the rules allow instead. onSeeking checks seeks from elsewhere (media keys,
  // picture-in-picture) and records the allowed ones.
  const seekTo = (wanted: number) => {
    const element = video.current;
    if (!element) return;
    closeSegment();
    let target = Math.max(0, Math.min(wanted, duration || wanted));
    const decision = decideSeek(target, rules);
    if (!decision.allowed) {
      setNotice(decision.reason);
      target = decision.to;
    }
    setTime(target); // the controlled timeline follows at once, not at the next timeupdate
    element.currentTime = target;
  };

  const onSeeking = () => {
    const element = video.current;
    if (!element) return;
    const target = element.currentTime;
    if (correcting.current !== null && Math.abs(target - correcting.current) < 0.05) {
      correcting.current = null;
      return;
    }
    const decision = decideSeek(target, rules);
    if (!decision.allowed) {
      correcting.current = decision.to;
      element.currentTime = decision.to;
      setNotice(decision.reason);
      last.current = decision.to;
      return;
    }
    track({ type: "video.seek", lesson_id: lessonId, video_id: videoId, position: target, from_position: last.current });
    segmentStart.current = element.paused ? null : target;
    last.current = target;
  };

  const togglePlay = () => {
    const element = video.current;
    if (!element) return;
    if (active && !active.review) return; // questions first
    if (element.paused) playRequested.current ??= performance.now();
    if (element.paused) void element.play().catch((error) => setNotice(`The video cannot play: ${error.message}`));
    else element.pause();
  };

  const onSettled = useCallback((milestoneId: string) => {
    setSettled((all) => (all.has(milestoneId) ? all : new Set([...all, milestoneId])));
  }, []);

  const closePanel = () => {
    const wasReview = active?.review;
    setActive(null);
    void queryClient.invalidateQueries({ queryKey: ["progress"] });
    if (!wasReview) void video.current?.play().catch(() => undefined);
  };

  const percent = (t: number) => `${duration ? (t / duration) * 100 : 0}%`;

  return (
    <div className="player">
      <div className={active ? "stage asking" : "stage"}>
        <video
          ref={video}
          src={src}
          preload="metadata"
          playsInline
          crossOrigin={undefined}
          onLoadedMetadata={(e) => {
            const element = e.currentTarget;
            if (Number.isFinite(element.duration)) setDuration(element.duration);
            element.playbackRate = rate;
            if (restoreAt.current !== null) {
              correcting.current = restoreAt.current;
              element.currentTime = restoreAt.current;
              restoreAt.current = null;
            }
          }}
          onTimeUpdate={(e) => setTime(e.currentTarget.currentTime)}
          onPlaying={() => {
            if (playRequested.current === null || playRequested.current < 0) return;
            track({ type: "performance", name: "video.startup_ms", value: Math.round(performance.now() - playRequested.current) });
            playRequested.current = -1; // once per player: later plays are resumes, not startups
          }}
          onPlay={(e) => {
            setPlaying(true);
            setOfferResume(false);
            setNotice("");
            segmentStart.current = e.currentTarget.currentTime;
            last.current = e.currentTarget.currentTime;
            track({ type: "video.play", lesson_id: lessonId, video_id: videoId, position: e.currentTarget.currentTime });
          }}
          onPause={(e) => {
            setPlaying(false);
            closeSegment(e.currentTarget);
            track({ type: "video.pause", lesson_id: lessonId, video_id: videoId, position: e.currentTarget.currentTime });
          }}
          onSeeking={onSeeking}
          onEnded={(e) => {
            setPlaying(false);
            heartbeat(e.currentTarget);
            track({ type: "video.ended", lesson_id: lessonId, video_id: videoId, position: e.currentTarget.currentTime });
            void queryClient.invalidateQueries({ queryKey: ["progress"] });
          }}
          onRateChange={(e) =>
            track({ type: "video.rate_change", lesson_id: lessonId, video_id: videoId, position: e.currentTarget.currentTime, playback_rate: e.currentTarget.playbackRate })
          }
          onError={(e) => {
            if (props.url !== src) {
              restoreAt.current = e.currentTarget.currentTime; // the URL expired: go on with the fresh one
              setSrc(props.url);
            } else setNotice("The video could not be loaded. Reload the page to try again.");
          }}
          onClick={togglePlay}
          aria-label="Lesson video"
        >
          {captionUrl && caption && <track kind="captions" src={captionUrl} srcLang={caption.language} label={caption.label} default={captionsOn} />}
        </video>
        {offerResume && !active && (
          <div className="resume-offer" role="region" aria-label="Resume">
            <button type="button" onClick={() => { seekTo(props.resume.position); setOfferResume(false); void video.current?.play(); }}>
              Continue at {clock(props.resume.position)}
            </button>
            <button type="button" className="secondary" onClick={() => { seekTo(0); setOfferResume(false); }}>
              Start over
            </button>
          </div>
        )}
        {active && (
          <QuestionPanel lessonId={lessonId} milestone={active.mark} review={active.review} onSettled={onSettled} onClose={closePanel} />
        )}
      </div>
      <div className="controls">
        <button type="button" onClick={togglePlay} aria-label={playing ? "Pause" : "Play"} disabled={Boolean(active && !active.review)}>
          {playing ? "❚❚" : "▶"}
        </button>
        <div className="timeline">
          <div className="watched" aria-hidden="true">
            {watched.map(([start, end]) => (
              <span key={`${start}-${end}`} style={{ left: percent(start), width: `calc(${percent(end)} - ${percent(start)})` }} />
            ))}
          </div>
          <input
            type="range"
            aria-label="Position in the video"
            aria-valuetext={`${clock(time)} of ${clock(duration)}`}
            min={0}
            max={duration || 0}
            step={1}
            value={Math.min(time, duration || time)}
            onChange={(e: ChangeEvent<HTMLInputElement>) => seekTo(Number(e.target.value))}
          />
          {marks.map((mark) => (
            <button
              key={mark.id}
              type="button"
              className={`mark ${mark.is_required ? "required" : ""} ${settled.has(mark.id) ? "done" : ""}`}
              style={{ left: percent(mark.timestamp) }}
              aria-label={`Milestone “${mark.title}” at ${clock(mark.timestamp)}${mark.is_required ? ", required" : ""}${settled.has(mark.id) ? ", answered" : ""}`}
              title={`${mark.title} (${clock(mark.timestamp)})`}
              onClick={() => (settled.has(mark.id) || mark.timestamp <= time + 0.5 ? setActive({ mark, review: true }) : seekTo(mark.timestamp))}
            />
          ))}
        </div>
        <span className="time" aria-hidden="true">
          {clock(time)} / {clock(duration)}
        </span>
        <label className="compact">
          <span className="visually-hidden">Playback speed</span>
          <select
            value={rate}
            onChange={(e) => {
              const next = Number(e.target.value);
              setRate(next);
              savePreference({ playback_speed: next });
            }}
          >
            {SPEEDS.map((speed) => (
              <option key={speed} value={speed}>
                {speed}×
              </option>
            ))}
          </select>
        </label>
        {caption && (
          <button
            type="button"
            aria-pressed={captionsOn}
            onClick={() => {
              setCaptionsOn(!captionsOn);
              savePreference({ captions_enabled: !captionsOn });
            }}
          >
            CC<span className="visually-hidden"> captions</span>
          </button>
        )}
        <button type="button" aria-label="Full screen" onClick={() => void video.current?.parentElement?.requestFullscreen?.()}>
          <svg width="18" height="18" viewBox="0 0 18 18" aria-hidden="true" fill="none" stroke="currentColor" strokeWidth="2">
            <path d="M1 6V1h5M12 1h5v5M17 12v5h-5M6 17H1v-5" />
          </svg>
        </button>
      </div>
      <p className="notice" role="status" aria-live="polite" hidden={!notice}>
        {notice}
      </p>
      <section aria-labelledby="milestones-title" className="milestones">
        <h2 id="milestones-title">Milestones</h2>
        <ol>
          {marks.map((mark) => (
            <li key={mark.id}>
              <span className="when">{clock(mark.timestamp)}</span> {mark.title}
              {mark.is_required && <span className="tag">required</span>}
              {settled.has(mark.id) ? (
                <button type="button" className="link" onClick={() => setActive({ mark, review: true })}>
                  Review your answers
                </button>
              ) : (
                <span className="meta"> · {mark.question_count} {mark.question_count === 1 ? "question" : "questions"}</span>
              )}
            </li>
          ))}
        </ol>
      </section>
    </div>
  );
}
