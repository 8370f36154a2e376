package portainertest

import (
	"strings"
	"testing"
)

// The comparison must catch what the contract pins down, or the replay
// could not fail.
func TestComparer(t *testing.T) {
	tests := []struct {
		name      string
		want, got string
		diffs     int
	}{
		{"identical documents agree", `{"Id":1,"Type":1}`, `{"Id":1,"Type":1}`, 0},
		{"a field named as in the request instead of the response differs", `{"ResourceId":"x"}`, `{"ResourceID":"x"}`, 2},
		{"a missing field differs", `{"message":"m","details":"d"}`, `{"message":"m"}`, 1},
		{"an extra field differs", `{"jwt":"<jwt>"}`, `{"jwt":"a.b.c","token":"x"}`, 1},
		{"a number where a string was recorded differs", `{"Version":"2.23.0"}`, `{"Version":2.23}`, 1},
		{"a different message differs", `{"message":"Invalid JWT token"}`, `{"message":"Unauthorized"}`, 1},
		{"a different id differs", `{"Id":2}`, `{"Id":3}`, 1},
		{"a sample unix time is compared by type", `{"dateCreated":1795630320}`, `{"dateCreated":1}`, 0},
		{"a token matching its placeholder agrees", `{"Token":"<token>"}`, `{"Token":"0f8fad5b-d9cb-469f-a165-70867728950e"}`, 0},
		{"a token that is no UUID v4 differs", `{"Token":"<token>"}`, `{"Token":"not-a-uuid"}`, 1},
		{"an embedded placeholder is a pattern", `{"details":"lookup x on <dns-server>:53: no such host"}`, `{"details":"lookup x on 127.0.0.11:53: no such host"}`, 0},
		{"an array of another length differs", `[{"Id":1}]`, `[]`, 1},
		{"null where an object was recorded differs", `{"Cluster":{}}`, `{"Cluster":null}`, 1},
		{"host data is compared by shape", `{"Snapshots":[{"NFd":78,"Name":"<hostname>"}]}`, `{"Snapshots":[{"NFd":3,"Name":"vps1"}]}`, 0},
		{"host data with a renamed field differs", `{"Snapshots":[{"NFd":78}]}`, `{"Snapshots":[{"Nfd":78}]}`, 2},
		{"a recorded snapshot must be there", `{"Snapshots":[{"NFd":78}]}`, `{"Snapshots":[]}`, 1},
		{"host data may leave out a field the engine omits when empty", `{"Snapshots":[{"Config":[{"Subnet":"10.0.0.0/24","Gateway":"10.0.0.1"}]}]}`, `{"Snapshots":[{"Config":[{"Subnet":"172.17.0.0/16"}]}]}`, 0},
		{"outside host data that field is still required", `{"Gateway":"10.0.0.1"}`, `{}`, 1},
		{"host data without a field the engine always sends differs", `{"Snapshots":[{"Config":[{"Subnet":"10.0.0.0/24","Driver":"default"}]}]}`, `{"Snapshots":[{"Config":[{"Subnet":"10.0.0.0/24"}]}]}`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := decodeJSON([]byte(tt.want))
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeJSON([]byte(tt.got))
			if err != nil {
				t.Fatal(err)
			}
			c := &comparer{}
			c.compare("body", "", want, got, false)
			if len(c.diffs) != tt.diffs {
				t.Fatalf("%d differences, want %d:\n%s", len(c.diffs), tt.diffs, strings.Join(c.diffs, "\n"))
			}
		})
	}
}
