package vault

import (
	"fmt"
	"strings"
	"testing"
)

func TestPrintedValuesNeverShowTheTokenInsideTheURL(t *testing.T) {
	const token = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
	url := "https://portainer.example/api/webhooks/" + token
	w := Webhook{Service: "web", Token: token, URL: url}
	e := Entry{Service: "web", Token: token, URL: url}
	c := Change{Op: OpCreate, Service: "web", Want: w}
	for _, s := range []string{w.String(), e.String(), c.String(), fmt.Sprintf("%v %+v %#v", w, e, c)} {
		if strings.Contains(s, token) {
			t.Errorf("token printed: %s", s)
		}
	}
}
