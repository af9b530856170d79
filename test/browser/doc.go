// Package browser holds the web console's browser test: headless Chromium, driven with
// chromedp, against the standalone binary loaded with the demo company. It is a module of its
// own so that the browser driver stays out of the services' dependencies.
package browser
