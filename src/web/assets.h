/* assets: the status page's files, compiled in (build/gen/web_assets.c is generated from
 * src/web/index.html, app.js and app.css by scripts/embed.sh), so the page needs nothing
 * from outside: no CDN, no file on disk. */
#ifndef TEND_WEB_ASSETS_H
#define TEND_WEB_ASSETS_H

#include <stddef.h>

extern const char web_asset_index_html[];
extern const size_t web_asset_index_html_len;
extern const char web_asset_app_js[];
extern const size_t web_asset_app_js_len;
extern const char web_asset_app_css[];
extern const size_t web_asset_app_css_len;

#endif
