// Call `onWidth` when the element's width changes (not on height-only changes, which a redraw
// that sets the canvas height would otherwise trigger in a loop). Returns the disconnect.
export function onWidthChange(el: Element, onWidth: (width: number) => void): () => void {
  let lastWidth = 0;
  const ro = new ResizeObserver((entries) => {
    const w = Math.floor(entries[0].contentRect.width);
    if (w > 0 && w !== lastWidth) {
      lastWidth = w;
      onWidth(w);
    }
  });
  ro.observe(el);
  return () => ro.disconnect();
}
