package daemon

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// tlsFiles writes a self-signed certificate for 127.0.0.1 and its key to
// dir (cert.pem, key.pem) and returns a pool trusting it.
func tlsFiles(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "towerhook test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{
		"cert.pem": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		"key.pem":  string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})),
	})
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

// tlsClient trusts pool only.
func tlsClient(pool *x509.CertPool) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

func bcryptHash(t *testing.T, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

const tlsOnly = "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"

func TestAdminWebConfigTLSAndBasicAuth(t *testing.T) {
	cfg := t.TempDir()
	pool := tlsFiles(t, cfg)
	writeFiles(t, cfg, map[string]string{"web.yml": tlsOnly +
		"basic_auth_users:\n  prometheus: " + bcryptHash(t, "s3cret") + "\n"})
	d := startDaemon(t, map[string]string{"hooks.yaml": openFile("")}, func(o *Options) {
		o.AdminWebConfig = filepath.Join(cfg, "web.yml")
	})
	admin := strings.Replace(d.admin, "http://", "https://", 1)
	client := tlsClient(pool)
	for _, tc := range []struct {
		name, user, pass string
		want             int
	}{
		{"no credentials", "", "", http.StatusUnauthorized},
		{"wrong password", "prometheus", "wrong", http.StatusUnauthorized},
		{"unknown user", "someone", "s3cret", http.StatusUnauthorized},
		{"right password", "prometheus", "s3cret", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/metrics", "/-/healthy", "/api/v1/definitions"} {
				req, _ := http.NewRequest("GET", admin+path, nil)
				if tc.user != "" {
					req.SetBasicAuth(tc.user, tc.pass)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.want {
					t.Errorf("%s: status %d, want %d", path, resp.StatusCode, tc.want)
				}
			}
		})
	}
	// Plain HTTP is not served on the TLS port.
	if resp, err := http.Get(d.admin + "/-/healthy"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP answered 200 on the TLS admin listener")
		}
	}
	// The public listener stays plain HTTP.
	if r := do(t, "GET", d.pub+"/", "", nil); r.Status == 0 {
		t.Error("public listener not answering plain HTTP")
	}
}

func TestPublicWebConfigTLS(t *testing.T) {
	cfg := t.TempDir()
	pool := tlsFiles(t, cfg)
	writeFiles(t, cfg, map[string]string{"web.yml": tlsOnly})
	d := startDaemon(t, map[string]string{"hooks.yaml": openFile(hook("hi", "hi", "open", "", `result.message = "hello"`))}, func(o *Options) {
		o.WebConfig = filepath.Join(cfg, "web.yml")
	})
	pub := strings.Replace(d.pub, "http://", "https://", 1)
	resp, err := tlsClient(pool).Post(pub+DefaultPrefix+"hi", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "hello") {
		t.Fatalf("TLS call: %d %s", resp.StatusCode, b)
	}
	// An untrusting client fails the handshake: it is really TLS.
	if _, err := http.Post(pub+DefaultPrefix+"hi", "application/json", strings.NewReader("{}")); err == nil {
		t.Error("a client without the CA got an answer")
	}
	// The admin listener stays plain HTTP.
	if r := do(t, "GET", d.admin+"/-/healthy", "", nil); r.Status != http.StatusOK {
		t.Errorf("admin: %d", r.Status)
	}
}

func TestWebConfigErrors(t *testing.T) {
	cfg := t.TempDir()
	tlsFiles(t, cfg)
	hash := bcryptHash(t, "pw")
	writeFiles(t, cfg, map[string]string{
		"auth.yml":       "basic_auth_users:\n  alice: " + hash + "\n",
		"tls-auth.yml":   tlsOnly + "basic_auth_users:\n  alice: " + hash + "\n",
		"tls.yml":        tlsOnly,
		"nocert.yml":     "tls_server_config:\n  cert_file: missing.pem\n  key_file: key.pem\n",
		"badkey.yml":     "tls_server_config:\n  cert_file: cert.pem\n  key_file: unreadable.pem\n",
		"unreadable.pem": "secret",
		"badyaml.yml":    "tls_server_config:\n  cert_fil: cert.pem\n  bogus: [\n",
		"unknown.yml":    "tls_server_config:\n  cert_fil: cert.pem\n",
		"badhash.yml":    "basic_auth_users:\n  alice: plaintext\n",
		"nokey.yml":      "tls_server_config:\n  cert_file: cert.pem\n",
	})
	if err := os.Chmod(filepath.Join(cfg, "unreadable.pem"), 0); err != nil {
		t.Fatal(err)
	}
	root := os.Geteuid() == 0
	for _, tc := range []struct {
		flag, file string
		public     bool
		want       string // "" = valid
	}{
		{"--admin-web-config", "auth.yml", false, ""},
		{"--admin-web-config", "tls-auth.yml", false, ""},
		{"--web-config", "tls.yml", true, ""},
		{"--web-config", "auth.yml", true, "basic_auth_users is not allowed on the public listener"},
		{"--web-config", "tls-auth.yml", true, "basic_auth_users is not allowed on the public listener"},
		{"--admin-web-config", "absent.yml", false, "no such file or directory"},
		{"--admin-web-config", "nocert.yml", false, "missing.pem"},
		{"--web-config", "nocert.yml", true, "missing.pem"},
		{"--admin-web-config", "badkey.yml", false, "unreadable.pem"},
		{"--admin-web-config", "badyaml.yml", false, "yaml"},
		{"--admin-web-config", "unknown.yml", false, "cert_fil"},
		{"--admin-web-config", "badhash.yml", false, "bcrypt"},
		{"--admin-web-config", "nokey.yml", false, "missing one of key or key_file"},
	} {
		t.Run(tc.flag+" "+tc.file, func(t *testing.T) {
			if tc.file == "badkey.yml" && root {
				// root reads a mode-0 file; the key is still not a key.
				tc.want = "X509KeyPair"
			}
			file := filepath.Join(cfg, tc.file)
			err := checkWebConfig(tc.flag, file, tc.public)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tc.flag+" "+file+": ") || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line starting %q and containing %q", msg, tc.flag+" "+file+": ", tc.want)
			}
		})
	}
}

func TestServeRefusesBadWebConfig(t *testing.T) {
	cfg := t.TempDir()
	writeFiles(t, cfg, map[string]string{"web.yml": "tls_server_config:\n  cert_file: nope.pem\n  key_file: nope.key\n"})
	o := DefaultOptions()
	o.Dir, o.Data = t.TempDir(), t.TempDir()
	o.AdminWebConfig = filepath.Join(cfg, "web.yml")
	err := Serve(t.Context(), o, discardLogger())
	if err == nil || !strings.Contains(err.Error(), "--admin-web-config "+o.AdminWebConfig+": ") || !strings.Contains(err.Error(), "nope.pem") {
		t.Fatalf("Serve: %v", err)
	}
}
