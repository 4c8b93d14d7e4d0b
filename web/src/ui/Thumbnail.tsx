/** A lesson's picture, or its initial on a colour when it has none. */
export function Thumbnail({ src, title }: { src?: string | null; title: string }) {
  if (src) return <img className="thumb" src={src} alt="" loading="lazy" />;
  return (
    <div className="thumb placeholder" aria-hidden="true">
      {title.slice(0, 1).toUpperCase()}
    </div>
  );
}
