package deploy

import (
	"bytes"
	"encoding/json"
)

// jsonEqual compares two values by their JSON form, which treats nil and
// empty maps and slices alike only when they marshal alike.
func jsonEqual(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}
