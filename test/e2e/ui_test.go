package e2e

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// screenshotsEnv names a directory where TestWebUI saves its screenshots (docs/images
// is made with `make ui-screenshots`).
const screenshotsEnv = "SPARSE_UI_SCREENSHOTS"

// TestWebUI drives the web UI in headless Chromium against a secure cluster running
// wordcount: sign in with a token, the cluster page lists the topology, the topology
// page's acked counts are non-zero and grow between refreshes, the graph has one node
// per component, a worker's log shows through nimbus, deactivate (confirmed) makes
// `sparsectl list` say inactive, the window selector changes the figures' window, and a
// viewer sees no action buttons.
func TestWebUI(t *testing.T) {
	browser, err := exec.LookPath("chromium")
	if err != nil {
		if testing.Short() {
			t.Skip("chromium is not installed (scripts/test-deps.sh installs it)")
		}
		t.Fatal("chromium is not installed; run scripts/test-deps.sh (Debian package chromium)")
	}
	c := newTestCluster(t, []string{"n1"}, map[string]int{"s1": 2})
	c.mustCtl(append(append([]string{"submit", bins.wordcount, "--name", "wc", "--workers", "2"}, wordcountOpts(0, c.state)...),
		"-o", "wordcount.rate=200")...)
	var viz struct {
		Nodes []struct{ ID string } `json:"nodes"`
	}
	if code, body := c.rest("GET", "/api/v1/topology/wc/visualization", c.token); code != 200 || json.Unmarshal(body, &viz) != nil || len(viz.Nodes) == 0 {
		t.Fatalf("GET visualization: %d %s", code, body)
	}
	var tok struct {
		Secret string `json:"secret"`
	}
	if out := c.mustCtl("token", "create", "--role", "viewer", "--name", "watcher", "--json"); json.Unmarshal([]byte(out), &tok) != nil || tok.Secret == "" {
		t.Fatalf("token create --json:\n%s", out)
	}

	// Chromium trusts nimbus's certificate by its public key: the test's CA is in no
	// trust store, and no certificate error is ignored beyond this one key.
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.WindowSize(1280, 900),
		chromedp.Flag("ignore-certificate-errors-spki-list", spkiHash(t, c.tls.file("server-nimbus"))))
	actx, cancel := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	base := "https://" + c.httpAt["n1"]
	// The first call starts the browser, on a context without a deadline; each step
	// after it has one of its own.
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatalf("open the UI in chromium: %v", err)
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(bctx, time.Minute)
		defer cancel()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v%s", what, err, c.logs())
		}
	}
	// waitJS evaluates a JavaScript expression until it is true; an error (the page
	// being reloaded) is tried again.
	waitJS := func(what, expr string) {
		t.Helper()
		deadline := time.Now().Add(45 * time.Second)
		var last error
		for time.Now().Before(deadline) {
			ctx, cancel := context.WithTimeout(bctx, 5*time.Second)
			ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
			cancel()
			if err == nil && ok {
				return
			}
			last = err
			time.Sleep(200 * time.Millisecond)
		}
		var text string
		ctx, cancel := context.WithTimeout(bctx, 5*time.Second)
		defer cancel()
		text, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("%s: not within 45s (last error: %v); the page says:\n%s%s", what, last, text, c.logs())
	}
	shots := os.Getenv(screenshotsEnv)
	shoot := func(name string, a chromedp.Action[[]byte]) {
		t.Helper()
		if shots == "" {
			return
		}
		png, err := chromedp.Run(bctx, a)
		if err != nil {
			t.Fatalf("a screenshot of %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	page := chromedp.FullScreenshot(100) // quality 100: PNG

	do("sign in", chromedp.WaitVisible(chromedp.ID("token")), chromedp.SendKeys(chromedp.ID("token"), c.token), chromedp.Click(chromedp.ID("signin")))
	waitJS("the cluster page lists wc", `[...document.querySelectorAll("#content table a")].some(a => a.textContent === "wc")`)
	waitJS("the cluster page shows wc's acked sentences", `[...document.querySelectorAll("#content tbody tr")].some(r => r.cells[0].textContent === "wc" && Number(r.cells[9].textContent.replace(/\D/g, "")) > 0)`)
	shoot("ui-cluster", page)
	if evalJS[bool](t, bctx, fmt.Sprintf(`location.href.includes(%q)`, c.token)) {
		t.Error("the token is in the page's URL")
	}

	do("open the topology page", chromedp.Click(chromedp.Search(`//a[text()="wc"]`)))
	waitJS("the topology page shows acked sentences", `Number(document.querySelector("td.acked")?.textContent.replace(/\D/g, "") || 0) > 0`)
	topoURL := evalJS[string](t, bctx, `location.href`)
	evalJS[bool](t, bctx, `window.sparseNotReloaded = true`) // gone if the page reloads
	first := evalJS[int64](t, bctx, `Number(document.querySelector("td.acked").textContent.replace(/\D/g, ""))`)
	waitJS("the acked count grows on a refresh, without a reload", fmt.Sprintf(`window.sparseNotReloaded && Number(document.querySelector("td.acked").textContent.replace(/\D/g, "")) > %d`, first))
	if nodes := evalJS[int](t, bctx, `document.querySelectorAll("#graph svg g.node").length`); nodes != len(viz.Nodes) {
		t.Errorf("the graph draws %d nodes; the topology has %d components", nodes, len(viz.Nodes))
	}
	if evalJS[int](t, bctx, `document.querySelectorAll("#actions button").length`) == 0 {
		t.Error("an admin sees no action buttons")
	}
	shoot("ui-topology", page) // the configuration, which names the test's directories, stays folded
	shoot("ui-graph", chromedp.Screenshot(chromedp.ID("graph")))
	evalJS[bool](t, bctx, `(s => { s.value = ":all-time"; s.dispatchEvent(new Event("change")); return true })(document.getElementById("window"))`)
	waitJS("the window selector shows all time", `[...document.querySelectorAll("h2")].some(h => h.textContent === "Spouts (all time)")`)

	do("open the component page", chromedp.Click(chromedp.Search(`//a[text()="split"]`)))
	waitJS("the component page lists executors", `location.pathname.endsWith("/component/split") && document.querySelectorAll("#content table")[2]?.tBodies[0]?.rows.length > 0`)
	shoot("ui-component", page)

	do("back to the topology page", chromedp.Navigate(topoURL))
	waitJS("the topology page has worker rows", `document.querySelectorAll("a.log-link").length > 0`)
	do("open a worker's log", chromedp.Click(chromedp.CSS("a.log-link")))
	waitJS("the worker's log shows through nimbus", `(document.getElementById("log")?.textContent || "").includes("\n")`)

	do("deactivate from the UI", chromedp.Navigate(topoURL), chromedp.WaitVisible(chromedp.ID("action-deactivate")),
		chromedp.Click(chromedp.ID("action-deactivate")), chromedp.WaitVisible(chromedp.ID("confirm-ok")), chromedp.Click(chromedp.ID("confirm-ok")))
	c.waitFor("sparsectl list says inactive", 30*time.Second, func() bool {
		out, err := c.ctl("list")
		return err == nil && strings.Contains(out, "inactive")
	})
	waitJS("the topology page says INACTIVE", `document.getElementById("topology-status")?.textContent === "INACTIVE"`)

	evalJS[bool](t, bctx, fmt.Sprintf(`sessionStorage.setItem("sparse.token", %q); setTimeout(() => location.reload(), 0); true`, tok.Secret))
	waitJS("the viewer sees the topology page", `document.getElementById("who")?.textContent === "watcher (viewer)" && !!document.getElementById("topology-status")`)
	if n := evalJS[int](t, bctx, `document.querySelectorAll("#actions button, #actions form").length`); n != 0 {
		t.Errorf("a viewer sees %d action buttons and forms; want none", n)
	}
}

// evalJS evaluates a JavaScript expression in the page.
func evalJS[T any](t *testing.T, bctx context.Context, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(bctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// spkiHash is the base64 sha256 of a PEM certificate's public key, as Chromium's
// --ignore-certificate-errors-spki-list takes it.
func spkiHash(t *testing.T, certFile string) string {
	t.Helper()
	b, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s holds no PEM block", certFile)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}
