#!/bin/sh
# Render the PWA's PNG icons from the SVG ones into ui/desktop/public and ui/mobile/public.
# The PNGs are committed (the build only copies them); run this after changing an icon.
# Needs rsvg-convert (Debian: librsvg2-bin).
#   icon-192.png, icon-512.png     from <app>/public/icon.svg (purpose "any": rounded, transparent corners)
#   icon-maskable-512.png          from build/icon-maskable.svg: full-bleed background, the glyph
#                                  scaled to stay inside the maskable safe zone (the centre 80% circle)
set -eu
cd "$(dirname "$0")/.."
for app in desktop mobile; do
  public="$app/public"
  for size in 192 512; do
    rsvg-convert -w "$size" -h "$size" -o "$public/icon-$size.png" "$public/icon.svg"
  done
  rsvg-convert -w 512 -h 512 -o "$public/icon-maskable-512.png" build/icon-maskable.svg
done
