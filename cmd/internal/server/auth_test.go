package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	aliceToken = "alice-token-0123456789"
	bobToken   = "bob-token-9876543210xx"
)

func tokenFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(p, []byte("# user token\nalice "+aliceToken+"\n\nbob "+bobToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadTokens(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ text, err string }{
		{"alice short\n", "shorter than 16"},
		{"alice " + aliceToken + " extra\n", "want USER TOKEN"},
		{"alice " + aliceToken + "\nbob " + aliceToken + "\n", "appears twice"},
		{"# nothing\n", "no tokens"},
	} {
		p := filepath.Join(dir, "f")
		os.WriteFile(p, []byte(c.text), 0o600)
		if _, err := loadTokens(p); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%q: error %v, want %q", c.text, err, c.err)
		}
	}
}

// TestAuth: with a token file, every request needs a token; polls,
// cancels and job control are refused to anyone but the owner.
func TestAuth(t *testing.T) {
	s, hs := startServer(t, Config{AuthTokenFile: tokenFile(t), CheckpointInterval: 50 * time.Millisecond})
	alice := &client{t: t, base: hs.URL, user: "alice", token: aliceToken}
	bob := &client{t: t, base: hs.URL, user: "bob", token: bobToken}
	nobody := &client{t: t, base: hs.URL, user: "alice"}

	status, _, h := nobody.do(nobody.request("POST", hs.URL+"/v1/statement", "SELECT 1", "alice"))
	if status != http.StatusUnauthorized || !strings.Contains(h.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("POST without a token: %d %v", status, h)
	}
	wrong := &client{t: t, base: hs.URL, user: "alice", token: "not-a-valid-token-at-all"}
	if status, _, _ := wrong.do(wrong.request("POST", hs.URL+"/v1/statement", "SELECT 1", "alice")); status != http.StatusUnauthorized {
		t.Fatalf("POST with a bad token: %d", status)
	}
	if status, _, _ := alice.do(alice.request("POST", hs.URL+"/v1/statement", "SELECT 1", "bob")); status != http.StatusForbidden {
		t.Fatalf("alice acting as bob: %d", status)
	}
	req := nobody.request("POST", hs.URL+"/v1/statement", "SELECT 1", "alice")
	req.SetBasicAuth("alice", aliceToken)
	status, body, _ := nobody.do(req)
	if status != http.StatusUnauthorized || !strings.Contains(string(body), "TLS") {
		t.Fatalf("basic auth over plain HTTP: %d %s", status, body)
	}
	if status, _, _ := nobody.do(nobody.request("HEAD", hs.URL+"/v1/statement", "", "")); status != http.StatusUnauthorized {
		t.Fatalf("HEAD without a token: %d", status)
	}
	if status, _, _ := alice.do(alice.request("HEAD", hs.URL+"/v1/statement", "", "")); status != http.StatusOK {
		t.Fatalf("HEAD with a token: %d", status)
	}
	if status, _, _ := nobody.do(nobody.request("GET", hs.URL+"/v1/info", "", "")); status != http.StatusOK {
		t.Fatalf("/v1/info needs no token: %d", status)
	}
	if status, _, _ := nobody.do(nobody.request("GET", hs.URL+"/metrics", "", "")); status != http.StatusUnauthorized {
		t.Fatalf("/metrics without a token: %d", status)
	}

	// a query of alice's
	alice.rows(`CREATE TABLE gen (id BIGINT) WITH ('connector'='datagen', 'rows-per-second'='1000',
		'fields.id.kind'='sequence', 'fields.id.start'='1')`)
	r := alice.post("SELECT id FROM gen")
	if r.Error != nil {
		t.Fatal(r.Error.Message)
	}
	for _, c := range []struct {
		who    *client
		method string
		url    string
		want   int
	}{
		{nobody, "GET", r.NextURI, http.StatusUnauthorized},
		{bob, "GET", r.NextURI, http.StatusForbidden},
		{bob, "DELETE", r.NextURI, http.StatusForbidden},
		{bob, "DELETE", hs.URL + "/v1/query/" + r.ID, http.StatusForbidden},
		{bob, "GET", hs.URL + "/v1/query/" + r.ID, http.StatusForbidden},
		{nobody, "DELETE", hs.URL + "/v1/query/" + r.ID, http.StatusUnauthorized},
	} {
		if status, body, _ := c.who.do(c.who.request(c.method, c.url, "", "")); status != c.want {
			t.Errorf("%s %s as %q: %d %s, want %d", c.method, c.url, c.who.token, status, body, c.want)
		}
	}
	var list []queryInfo
	bob.getJSON("/v1/query", &list)
	for _, in := range list {
		if in.User != "bob" {
			t.Fatalf("bob lists %s's query", in.User)
		}
	}
	// alice polls like the Go driver, with an empty X-Trino-User
	if p := alice.get(r.NextURI); p.Error != nil {
		t.Fatalf("alice's poll: %s", p.raw)
	}
	if status, _, _ := alice.do(alice.request("DELETE", hs.URL+"/v1/query/"+r.ID, "", "")); status != http.StatusNoContent {
		t.Fatalf("alice's DELETE: %d", status)
	}

	// a job of alice's
	out := filepath.Join(t.TempDir(), "out.jsonl")
	alice.rows(`CREATE TABLE sink (id BIGINT) WITH ('connector'='file', 'path'='` + out + `', 'format'='json')`)
	_, rows := alice.rows("INSERT INTO sink SELECT id FROM gen")
	id := str(rows[0][0])
	for _, c := range []struct{ method, path string }{
		{"GET", "/v1/jobs/" + id},
		{"GET", "/v1/jobs/" + id + "/checkpoints"},
		{"POST", "/v1/jobs/" + id + "/stop"},
		{"POST", "/v1/jobs/" + id + "/stop?savepoint=true"},
		{"POST", "/v1/jobs/" + id + "/savepoint"},
		{"POST", "/v1/jobs/" + id + "/resume"},
	} {
		if status, body, _ := bob.do(bob.request(c.method, hs.URL+c.path, "", "")); status != http.StatusForbidden {
			t.Errorf("bob: %s %s: %d %s", c.method, c.path, status, body)
		}
		if status, _, _ := nobody.do(nobody.request(c.method, hs.URL+c.path, "", "")); status != http.StatusUnauthorized {
			t.Errorf("no token: %s %s: %d", c.method, c.path, status)
		}
	}
	var jobs []jobSummary
	bob.getJSON("/v1/jobs", &jobs)
	if len(jobs) != 0 {
		t.Fatalf("bob lists alice's jobs: %+v", jobs)
	}
	alice.getJSON("/v1/jobs", &jobs)
	if len(jobs) != 1 || jobs[0].ID != id || jobs[0].Owner != "alice" {
		t.Fatalf("alice's jobs: %+v", jobs)
	}
	var d jobDetail
	if status, body := alice.postJSON("/v1/jobs/"+id+"/stop", &d); status != http.StatusOK || d.State != jobCanceled {
		t.Fatalf("alice stops her job: %d %s", status, body)
	}
	_ = s
}

// TestListen: beyond loopback, no authentication means no server.
func TestListen(t *testing.T) {
	if _, err := Listen(Config{Listen: "0.0.0.0:0"}); err == nil || !strings.Contains(err.Error(), "refusing to listen") {
		t.Fatalf("0.0.0.0 without auth: %v", err)
	}
	ln, err := Listen(Config{Listen: "0.0.0.0:0", AuthTokenFile: tokenFile(t)})
	if err != nil {
		t.Fatalf("0.0.0.0 with a token file: %v", err)
	}
	ln.Close()
	ln, err = Listen(Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if _, err := Listen(Config{Listen: "127.0.0.1:0", TLSCert: "x"}); err == nil {
		t.Fatal("--tls-cert without --tls-key accepted")
	}
}

// TestTLSBasicAuth: over TLS, basic auth with USER:TOKEN works.
func TestTLSBasicAuth(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := selfSigned(t, dir)
	cfg := Config{Listen: "127.0.0.1:0", TLSCert: certFile, TLSKey: keyFile, AuthTokenFile: tokenFile(t),
		DataDir: filepath.Join(dir, "data"), Log: &lockedBuffer{}}
	ln, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	}()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	base := "https://" + ln.Addr().String()
	req, _ := http.NewRequest("POST", base+"/v1/statement", strings.NewReader("SELECT 1"))
	req.SetBasicAuth("alice", aliceToken)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("basic auth over TLS: %d", resp.StatusCode)
	}
	req, _ = http.NewRequest("POST", base+"/v1/statement", strings.NewReader("SELECT 1"))
	req.SetBasicAuth("bob", aliceToken)
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bob with alice's token: %d", resp.StatusCode)
	}
}

func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "weir test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
