/**
 * The source of a function for page.evaluate: what a person would call a broken layout at the
 * page's viewport, one line per problem: the page scrolls sideways, a box sticks out of the viewport, content is cut off
 * inside a box that hides or scrolls its horizontal overflow, or two boxes overlap. Inline
 * content (text runs) and absolutely placed layers (chart overlays) are not boxes of the layout.
 */
export const LAYOUT_PROBLEMS = `() => {
  const problems = [];
  const vw = document.documentElement.clientWidth;
  const name = (el) =>
    \`\${el.tagName.toLowerCase()}\${el.id ? \`#\${el.id}\` : ""}\${el.classList.length ? \`.\${[...el.classList].join(".")}\` : ""}\`;
  const path = (el) => {
    const parts = [];
    for (let e = el; e && e !== document.body && parts.length < 4; e = e.parentElement) parts.unshift(name(e));
    return parts.join(" > ");
  };
  const shown = (el) => {
    const s = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    return s.display !== "none" && s.visibility !== "hidden" && r.width > 0 && r.height > 0 && r.right > 0;
  };
  const layered = (el) => {
    for (let e = el; e && e !== document.body; e = e.parentElement) {
      const p = getComputedStyle(e).position;
      if (p === "absolute" || p === "fixed") return true;
    }
    return false;
  };
  if (document.documentElement.scrollWidth > vw + 1) {
    problems.push(\`the page scrolls sideways: \${document.documentElement.scrollWidth}px content in \${vw}px\`);
  }
  for (const el of document.querySelectorAll("body *")) {
    if (!shown(el) || layered(el)) continue;
    const s = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    if (r.right > vw + 1 || r.left < -1) problems.push(\`\${path(el)} sticks out of the viewport (\${Math.round(r.left)}…\${Math.round(r.right)} of \${vw})\`);
    if (s.overflowX !== "visible" && el.scrollWidth > el.clientWidth + 1 && el.tagName !== "TEXTAREA" && el.tagName !== "INPUT") {
      problems.push(\`\${path(el)} cuts its content (\${el.scrollWidth}px in \${el.clientWidth}px)\`);
    }
    const boxes = [...el.children].filter((k) => shown(k) && !layered(k) && getComputedStyle(k).display !== "inline");
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i].getBoundingClientRect();
        const b = boxes[j].getBoundingClientRect();
        const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
        const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        if (w > 1 && h > 1) problems.push(\`\${path(boxes[i])} overlaps \${name(boxes[j])} (\${Math.round(w)}×\${Math.round(h)}px)\`);
      }
    }
  }
  return problems;
}`;
