import { svg, type SVGTemplateResult } from "lit";

// A small set of plain line icons for navigation; unknown names get a generic page.
const PATHS: Record<string, SVGTemplateResult> = {
  home: svg`<path d="M3 11 12 4l9 7v9h-6v-6H9v6H3z"/>`,
  bolt: svg`<path d="M13 2 4 14h7l-1 8 9-12h-7z"/>`,
  people: svg`<circle cx="9" cy="8" r="3.5"/><circle cx="17" cy="9" r="2.5"/><path d="M2 20c0-4 3-6 7-6s7 2 7 6M15 14c4 0 7 2 7 6"/>`,
  checklist: svg`<path d="M4 6l2 2 3-3M4 13l2 2 3-3M4 20l2 2 3-3M12 7h9M12 14h9M12 21h9"/>`,
  gear: svg`<circle cx="12" cy="12" r="3"/><path d="M12 2v4M12 18v4M2 12h4M18 12h4M5 5l3 3M16 16l3 3M5 19l3-3M16 8l3-3"/>`,
  page: svg`<path d="M6 2h9l5 5v15H6zM14 2v6h6"/>`,
};

export function icon(name: string): SVGTemplateResult {
  return svg`<svg class="icon" viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor"
    stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round">${PATHS[name] ?? PATHS.page}</svg>`;
}
