package portainertest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// persisted is the emulator's state as it is kept in Options.StateFile:
// what Portainer keeps in its database on its data volume, so a restarted
// Portainer (a task re-created on the same node) knows its administrator,
// environments, webhooks and API keys again.
type persisted struct {
	Secret    []byte         `json:"secret"`
	ID        string         `json:"id"`
	Users     []*user        `json:"users"`
	Endpoints []*endpoint    `json:"endpoints"`
	Webhooks  []*webhook     `json:"webhooks"`
	APIKeys   []*apiKey      `json:"apiKeys"`
	NextID    map[string]int `json:"nextId"`
}

// load reads the state file into s; a missing file is a fresh instance.
func (s *Server) load(path string) error {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var p persisted
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	s.secret, s.id, s.users, s.endpoints, s.webhooks, s.apiKeys = p.Secret, p.ID, p.Users, p.Endpoints, p.Webhooks, p.APIKeys
	if p.NextID != nil {
		s.nextID = p.NextID
	}
	return nil
}

// save writes s's state to the state file (a new file renamed over the
// old one). The caller holds no lock.
func (s *Server) save() error {
	if s.stateFile == "" {
		return nil
	}
	s.mu.Lock()
	b, err := json.Marshal(persisted{Secret: s.secret, ID: s.id, Users: s.users, Endpoints: s.endpoints, Webhooks: s.webhooks, APIKeys: s.apiKeys, NextID: s.nextID})
	s.mu.Unlock()
	if err != nil {
		return err
	}
	tmp := s.stateFile + ".new"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Clean(s.stateFile))
}
