package graph

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// Drawing sizes, in SVG user units (pixels).
const (
	nodeW, nodeH = 150, 46
	colGap       = 110
	rowGap       = 36
	margin       = 20
)

// SVG draws the graph: components in columns by layer, left to right, spouts as rounded
// boxes; each edge a curve with an arrow and its stream and grouping, wider when busier.
func (g Graph) SVG() string {
	pos := map[string][2]float64{}
	rows := map[int]int{}
	maxLayer, maxRows := 0, 0
	for _, n := range g.Nodes {
		r := rows[n.Layer]
		rows[n.Layer]++
		pos[n.ID] = [2]float64{margin + float64(n.Layer)*(nodeW+colGap), margin + float64(r)*(nodeH+rowGap)}
		maxLayer, maxRows = max(maxLayer, n.Layer), max(maxRows, r+1)
	}
	width := 2*margin + float64(maxLayer+1)*nodeW + float64(maxLayer)*colGap
	height := 2*margin + float64(maxRows)*nodeH + float64(max(maxRows-1, 0))*rowGap
	maxRate := 0.0
	for _, e := range g.Edges {
		maxRate = math.Max(maxRate, e.Rate)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12" role="img" aria-label="%s">`+"\n",
		width, height, width, height, esc("topology "+g.Name))
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="10" markerHeight="10" markerUnits="userSpaceOnUse" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>` + "\n")
	for _, e := range g.Edges {
		from, okf := pos[e.From]
		to, okt := pos[e.To]
		if !okf || !okt {
			continue
		}
		w := 1.5
		if maxRate > 0 {
			w += 4.5 * e.Rate / maxRate
		}
		x1, y1 := from[0]+nodeW, from[1]+nodeH/2
		x2, y2 := to[0], to[1]+nodeH/2
		var d string
		if x2 <= x1 { // a cycle or a self-loop: go round below
			low := math.Max(y1, y2) + nodeH
			d = fmt.Sprintf("M%.0f,%.0f C%.0f,%.0f %.0f,%.0f %.0f,%.0f", x1, y1, x1+60, low, x2-60, low, x2, y2)
		} else {
			mx := (x1 + x2) / 2
			d = fmt.Sprintf("M%.0f,%.0f C%.0f,%.0f %.0f,%.0f %.0f,%.0f", x1, y1, mx, y1, mx, y2, x2, y2)
		}
		fmt.Fprintf(&b, `<g class="edge"><title>%s</title><path d="%s" fill="none" stroke="#555" stroke-width="%.1f" marker-end="url(#arrow)"/>`,
			esc(e.From+" → "+e.To+" ("+e.label()+")"), d, w)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle" fill="#333">%s</text></g>`+"\n", (x1+x2)/2, (y1+y2)/2-6, esc(e.label()))
	}
	for _, n := range g.Nodes {
		p := pos[n.ID]
		fill, rx := "#e8f0fe", 4
		if n.Kind == "spout" {
			fill, rx = "#e6f4ea", 20
		}
		fmt.Fprintf(&b, `<g class="node" data-id="%s"><title>%s</title><rect x="%.0f" y="%.0f" width="%d" height="%d" rx="%d" fill="%s" stroke="#333"/>`,
			esc(n.ID), esc(n.ID+" ("+n.Kind+")"), p[0], p[1], nodeW, nodeH, rx, fill)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle" font-weight="bold">%s</text>`, p[0]+nodeW/2, p[1]+19, esc(clip(n.ID, 20)))
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle" fill="#555">%s ×%d</text></g>`+"\n", p[0]+nodeW/2, p[1]+36, esc(n.Kind), n.Parallelism)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func esc(s string) string { return html.EscapeString(s) }

// clip shortens a name that would not fit its box.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
