package pulumiactor

import "testing"

func TestGenerationIsRaisedOncePerAttempt(t *testing.T) {
	cases := []struct {
		name          string
		labels        map[string]string
		cfg, deployed int
		want          int
	}{
		{name: "a first replacement raises the deployed generation by one", want: 1},
		{name: "a node replaced before gets the generation after its current one", cfg: 2, deployed: 2, want: 3},
		{name: "a raise already in the config but not deployed (restart before up) is not raised again", cfg: 1, deployed: 0, want: 1},
		{name: "a config left behind the state (hand edit) still moves past the deployed server", cfg: 0, deployed: 2, want: 3},
		{name: "a resumed attempt deploys the generation it recorded, even after its up finished", labels: map[string]string{LabelGeneration: "1"}, cfg: 1, deployed: 1, want: 1},
		{name: "a garbled record is ignored", labels: map[string]string{LabelGeneration: "x"}, cfg: 1, deployed: 1, want: 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := recorded(c.labels)
			if !ok {
				got = NextGeneration(c.cfg, c.deployed)
			}
			if got != c.want {
				t.Fatalf("generation = %d, want %d", got, c.want)
			}
		})
	}
}
