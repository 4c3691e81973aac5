package eas

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"syncml-imap/pim/memstore"
)

func TestAutodiscover(t *testing.T) {
	srv := httptest.NewServer(&Autodiscover{Auth: &memstore.Accounts{Password: "secret"}, URL: "https://sync.example.org/Microsoft-Server-ActiveSync"})
	defer srv.Close()
	ask := func(password, schema string) (int, string) {
		body := `<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="` + mobileSyncRequest + `"><Request><EMailAddress>alice@example.org</EMailAddress>` +
			`<AcceptableResponseSchema>` + schema + `</AcceptableResponseSchema></Request></Autodiscover>`
		req, _ := http.NewRequest("POST", srv.URL+"/Autodiscover/Autodiscover.xml", strings.NewReader(body))
		req.SetBasicAuth("alice@example.org", password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := ask("wrong", mobileSyncResponse); code != http.StatusUnauthorized {
		t.Errorf("wrong password: %d", code)
	}
	code, body := ask("secret", mobileSyncResponse)
	for _, want := range []string{"<Type>MobileSync</Type>", "<Url>https://sync.example.org/Microsoft-Server-ActiveSync</Url>", "<EMailAddress>alice@example.org</EMailAddress>", `xmlns="` + mobileSyncResponse + `"`} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("%d, answer lacks %q:\n%s", code, want, body)
		}
	}
	if _, body := ask("secret", "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"); !strings.Contains(body, "<ErrorCode>600</ErrorCode>") {
		t.Errorf("an Outlook request: %s", body)
	}
	resp, err := http.Get(srv.URL + "/autodiscover/autodiscover.json/v1.0/alice@example.org?Protocol=ActiveSync")
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Protocol, Url string }
	json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if got.Protocol != "ActiveSync" || got.Url != "https://sync.example.org/Microsoft-Server-ActiveSync" {
		t.Errorf("JSON form: %+v", got)
	}
}
