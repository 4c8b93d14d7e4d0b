import { Link } from "react-router";

// The teacher's studio (lessons, upload, milestones, AI review, the class view) is the next
// part of the web client; until then teachers use the API (see the README's walkthroughs).
export default function Studio() {
  return (
    <div className="page">
      <h1>Studio</h1>
      <p>
        Building lessons, reviewing AI drafts and following your class arrive here next. Meanwhile you can
        preview published lessons as your students see them.
      </p>
      <Link to="/lessons">Preview lessons</Link>
    </div>
  );
}
