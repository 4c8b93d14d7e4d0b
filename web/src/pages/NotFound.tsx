import { Link } from "react-router";

export function NotFound() {
  return (
    <div className="page narrow">
      <h1>Page not found</h1>
      <p>There is nothing at this address. It may have moved, or the link may be incomplete.</p>
      <Link to="/">Go to the start page</Link>
    </div>
  );
}
