package swarmexec

import (
	"testing"

	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/replace"
)

func TestEntryKeepsTheOperatorsSSHOverrides(t *testing.T) {
	old := inventory.Node{Name: "w2", Address: "192.0.2.4", User: "deploy", Port: 2222, Role: "worker", Hoster: "b"}
	n := replace.Node{Name: "w2-r1", Address: "192.0.2.40", Role: "worker", Hoster: "c", Region: "c-1", Labels: map[string]string{"disk": "ssd"}}
	got := Entry(n, replace.Node{Name: "w2"}, old)
	if got.Name != "w2-r1" || got.Address != "192.0.2.40" || got.User != "deploy" || got.Port != 2222 || got.Hoster != "c" || got.Region != "c-1" || got.Labels["disk"] != "ssd" {
		t.Fatalf("Entry = %+v", got)
	}
}

func TestInventoryEditIsPasteableYAML(t *testing.T) {
	got, err := InventoryEdit("w2", inventory.Node{Name: "w2-r1", Address: "192.0.2.40", Role: "worker", Hoster: "b", Labels: map[string]string{"disk": "ssd"}})
	if err != nil {
		t.Fatal(err)
	}
	want := `in the inventory, under nodes:, replace the entry of w2 with:
  - name: w2-r1
    address: 192.0.2.40
    role: worker
    hoster: b
    labels:
      disk: ssd
`
	if got != want {
		t.Errorf("InventoryEdit =\n%s\nwant\n%s", got, want)
	}
}
