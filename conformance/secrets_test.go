package conformance

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
)

// secretForms are the ways a password can show up in a text: as is, URL-encoded (query and path escaping), in a
// URL's userinfo, and inside HTTP Basic credentials (base64 of user:password, standard and URL alphabets).
func secretForms(user, password string) []string {
	basic := user + ":" + password
	return []string{
		password,
		url.QueryEscape(password),
		url.PathEscape(password),
		url.UserPassword(user, password).String(),
		base64.StdEncoding.EncodeToString([]byte(basic)),
		base64.RawStdEncoding.EncodeToString([]byte(basic)),
		base64.URLEncoding.EncodeToString([]byte(basic)),
	}
}

// echoingClickHouse is a server that refuses every request with a ClickHouse-style error quoting the request's
// credentials back (Authorization header and URL), as a misconfigured proxy or server in front of ClickHouse may.
func echoingClickHouse(t *testing.T) string {
	t.Helper()
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-ClickHouse-Exception-Code", "516")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, "Code: 516. DB::Exception: Authentication failed for request %s with Authorization: %s (AUTHENTICATION_FAILED)\n",
			r.URL.String(), r.Header.Get("Authorization"))
	}))
	t.Cleanup(server.Close)
	return server.URL
}

// registryToken is the MLflow token of the registry cases.
const registryToken = "mlflow-token-Zx81/+q=secret"

// echoingRegistry is an MLflow-like server that fails every request with an MLflow JSON error quoting the request's
// token back, bare and in its Authorization header, as a misconfigured proxy in front of MLflow may.
func echoingRegistry(t *testing.T) string {
	t.Helper()
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		authorization := r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, `{"error_code":"INTERNAL_ERROR","message":"token %s of %s (Authorization: %s) failed"}`,
			strings.TrimPrefix(authorization, "Bearer "), r.URL.String(), authorization)
	}))
	t.Cleanup(server.Close)
	return server.URL
}

func TestSecretsNeverLeaveTheBackend(t *testing.T) {
	clickhouseURL, database := demoClickHouse(t)
	host := strings.TrimPrefix(clickhouseURL, "http://")
	wrong := clickhousePassword + "-wrong"
	withCredentials := func(password string) string {
		return "http://" + url.UserPassword("monitor", password).String() + "@" + host
	}
	p := startPlugin(t, false)
	cases := []struct {
		name     string
		jsonData map[string]any
		secure   map[string]string
		healthy  bool
		says     string
		// registry: the datasource names a model registry (holding registryToken) that echoes the token; the drift
		// query names the version "@champion" and must fail with a 502.
		registry bool
	}{
		{"credentials in the URL", map[string]any{"clickhouseUrl": withCredentials(clickhousePassword)}, nil, true, "user monitor", false},
		{"credentials in the URL, refused", map[string]any{"clickhouseUrl": withCredentials(wrong)}, nil, false, `refused the password of user "monitor"`, false},
		{"wrong password", map[string]any{"clickhouseUrl": clickhouseURL, "user": "monitor"}, map[string]string{"password": wrong}, false, `refused the password of user "monitor"`, false},
		{"a server echoing the credentials", map[string]any{"clickhouseUrl": echoingClickHouse(t), "user": "monitor"}, map[string]string{"password": clickhousePassword}, false, "refused the password", false},
		{"right password", map[string]any{"clickhouseUrl": clickhouseURL, "user": "monitor"}, map[string]string{"password": clickhousePassword}, true, "user monitor", false},
		{"a model registry echoing its token", map[string]any{"clickhouseUrl": clickhouseURL, "user": "monitor", "registryUrl": echoingRegistry(t)}, map[string]string{"password": clickhousePassword, "registryToken": registryToken}, false, "answered HTTP 500", true},
	}
	var answers []string
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.jsonData["storeKind"], c.jsonData["database"] = "clickhouse", database
			pc := datasource(fmt.Sprintf("secret-%d", i), c.jsonData, c.secure)
			health, err := p.clients.diagnostics.CheckHealth(ctx(t), &pluginv2.CheckHealthRequest{PluginContext: pc})
			if err != nil {
				t.Fatal(err)
			}
			if (health.Status == pluginv2.CheckHealthResponse_OK) != c.healthy || !strings.Contains(health.Message, c.says) {
				t.Errorf("health: got %v %q, want healthy=%v saying %q", health.Status, health.Message, c.healthy, c.says)
			}
			answers = append(answers, health.Message, string(health.JsonDetails))
			day := &pluginv2.TimeRange{FromEpochMS: demoEnd.Add(-24 * time.Hour).UnixMilli(), ToEpochMS: demoEnd.UnixMilli()}
			version := ""
			if c.registry {
				version = "@champion"
			}
			res, err := p.clients.data.QueryData(ctx(t), &pluginv2.QueryDataRequest{PluginContext: pc, Queries: []*pluginv2.DataQuery{
				{RefId: "D", Json: []byte(fmt.Sprintf(`{"queryType":"drift","model":%q,"version":%q,"bucket":"1h"}`, demoModel, version)), TimeRange: day},
				{RefId: "E", Json: []byte(fmt.Sprintf(`{"queryType":"events","model":%q,"bucket":"1h"}`, demoModel)), TimeRange: day},
				{RefId: "N", Json: []byte(`{"queryType":"drift","model":"no_such_model"}`), TimeRange: day, IntervalMS: 60_000, MaxDataPoints: 100},
				{RefId: "M", Json: []byte(`{"queryType":"models"}`), TimeRange: day},
			}})
			if err != nil {
				t.Fatal(err)
			}
			for refID, r := range res.Responses {
				answers = append(answers, r.Error, string(bytes.Join(r.Frames, nil)))
				if c.registry {
					if refID == "D" && r.Status != 502 {
						t.Errorf("@champion through a failing registry answered %d %s, want 502", r.Status, r.Error)
					}
					continue
				}
				if c.healthy && refID == "D" && r.Status != 200 {
					t.Errorf("drift with working credentials: %d %s", r.Status, r.Error)
				}
				if !c.healthy && r.Status == 200 {
					t.Errorf("%s answered 200 although the server refuses the credentials", refID)
				}
			}
			live := liveAnswers(t, p, pc, demoModel)
			if streamed := live[len(live)-1]; c.healthy && !strings.HasPrefix(streamed, `{"schema"`) {
				t.Errorf("the live channel with working credentials answered %q", streamed)
			} else if !c.healthy && !c.registry && !strings.HasPrefix(streamed, "rpc error: code = Internal desc = cannot open the ClickHouse") {
				t.Errorf("the live channel with refused credentials answered %q, want the store's error", streamed)
			}
			answers = append(answers, live...)
			answers = append(answers, string(callResource(t, p, pc, "models").Body), string(callResource(t, p, pc, "models/"+demoModel+"/features").Body),
				string(callResource(t, p, pc, "models/"+demoModel+"/versions").Body))
		})
	}
	p.client.Kill()
	answers = append(answers, p.stderr.String())
	secrets := [][2]string{{"monitor", clickhousePassword}, {"monitor", wrong}, {"", registryToken}}
	for _, secret := range secrets {
		for _, form := range secretForms(secret[0], secret[1]) {
			for _, text := range answers {
				if strings.Contains(text, form) {
					t.Errorf("the password appears (as %q) in what the backend answered or logged: %q", form, text)
				}
			}
		}
	}
}
