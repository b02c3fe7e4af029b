package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
)

// audit checks the page in the browser for what keeps people out: every
// control and image has a name in Chromium's own accessibility tree, and
// text has a contrast of at least 4.5:1 (3:1 when large) against what is
// behind it.
func audit(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	tree, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) (*accessibility.GetFullAXTreeResult, error) {
		r, err := cdp.Call(ctx, tg, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
		return &r, err
	})
	if err != nil {
		t.Fatalf("%s: accessibility tree: %v", page, err)
	}
	named := map[string]bool{"link": true, "button": true, "textbox": true, "searchbox": true, "image": true, "img": true, "checkbox": true, "combobox": true}
	controls := 0
	for _, n := range tree.Nodes {
		role := axString(n.Role)
		if n.Ignored || !named[role] {
			continue
		}
		controls++
		if strings.TrimSpace(axString(n.Name)) == "" {
			t.Errorf("%s: a %s without an accessible name (DOM node %d)", page, role, n.BackendDOMNodeID)
		}
	}
	if controls == 0 {
		t.Errorf("%s: no controls in the accessibility tree: the audit read nothing", page)
	}
	low, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](contrastJS))
	if err != nil {
		t.Fatalf("%s: contrast: %v", page, err)
	}
	for _, l := range low {
		t.Errorf("%s: contrast too low: %s", page, l)
	}
}

// phoneFits checks that the page, shown 390 px wide as on a phone, does
// not scroll sideways (a wide graph or table scrolls in its own box), and
// puts the window back after.
func phoneFits(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)) }()
	w, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, window.innerWidth]`))
	if err != nil {
		t.Fatalf("%s on a phone: %v", page, err)
	}
	screenshot(t, ctx, page+"-phone")
	if w[0] > w[1]+1 {
		t.Errorf("%s on a phone: the page is %d px wide in a %d px window: it scrolls sideways", page, w[0], w[1])
	}
}

func axString(v *accessibility.Value) string {
	if v == nil {
		return ""
	}
	var s string
	if json.Unmarshal(v.Value, &s) != nil {
		return ""
	}
	return s
}

// contrastJS lists visible text whose colour is too close to what is
// behind it (WCAG 2 contrast; SVG text against its node's box).
const contrastJS = `(() => {
	const rgb = (c) => { const m = c.match(/[\d.]+/g); return m ? m.map(Number) : [0, 0, 0, 0]; };
	const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
	const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
	const behind = (el) => {
		for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
			const c = rgb(getComputedStyle(e).backgroundColor);
			if (c.length < 4 || c[3] > 0) return c;
		}
		return [255, 255, 255];
	};
	const out = [];
	for (const el of document.body.querySelectorAll("*")) {
		const box = el.getBoundingClientRect();
		if (el.namespaceURI !== "http://www.w3.org/1999/xhtml" || box.width <= 1 || box.height <= 1) continue; // not shown, or for screen readers only
		const own = [...el.childNodes].filter((n) => n.nodeType === 3 && n.textContent.trim()).map((n) => n.textContent.trim()).join(" ");
		if (!own) continue;
		const st = getComputedStyle(el);
		if (st.visibility === "hidden" || el.closest("[hidden]") || el.disabled) continue;
		const size = parseFloat(st.fontSize), bold = +st.fontWeight >= 700;
		const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
		const r = ratio(rgb(st.color), behind(el));
		if (r < need) out.push(JSON.stringify(own.slice(0, 40)) + " in <" + el.tagName.toLowerCase() + " class=" + el.className + ">: " + r.toFixed(2) + ":1");
	}
	for (const text of document.querySelectorAll("svg a.node text")) {
		const box = text.parentElement.querySelector("rect");
		const r = ratio(rgb(getComputedStyle(text).fill), rgb(getComputedStyle(box).fill));
		if (r < 4.5) out.push("graph node " + JSON.stringify(text.textContent) + ": " + r.toFixed(2) + ":1");
	}
	return out;
})()`
