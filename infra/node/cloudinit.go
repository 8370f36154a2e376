package node

import (
	"fmt"
	"strings"
)

// CloudInit returns the cloud-config a fresh cloud server boots with. It
// holds only what bootstrap cannot do itself over SSH: root's authorized
// key comes from the hoster's SSH key resource, and password logins are
// off from the first boot, before anyone could try one. Docker, labels
// and the swarm are bootstrap's job. The node name goes into a comment
// only, so the text changes when the node changes and nothing else.
func CloudInit(s Spec) string {
	var b strings.Builder
	b.WriteString("#cloud-config\n")
	fmt.Fprintf(&b, "# shoal cluster %s, node %s (%s)\n", s.Cluster, s.Name, s.Role)
	b.WriteString("disable_root: false\n")
	b.WriteString("ssh_pwauth: false\n")
	b.WriteString("write_files:\n")
	b.WriteString("  - path: /etc/ssh/sshd_config.d/10-shoal.conf\n")
	b.WriteString("    permissions: \"0644\"\n")
	b.WriteString("    content: |\n")
	b.WriteString("      PasswordAuthentication no\n")
	b.WriteString("      KbdInteractiveAuthentication no\n")
	b.WriteString("      PermitRootLogin prohibit-password\n")
	b.WriteString("runcmd:\n")
	b.WriteString("  - [systemctl, reload, ssh]\n")
	return b.String()
}
