package host

import (
	"errors"
	"fmt"

	"github.com/shoalops/shoal/bootstrap/remote"
)

// HoldDockerd is the file a shoal lab VPS's init honours: while it exists
// the init does not start dockerd (lab.HoldDockerd names the same file).
const HoldDockerd = "/run/shoal-hold-dockerd"

// EngineControl is how to stop a host's engine so that it stays stopped,
// and how to start it again (waiting until it answers).
type EngineControl struct {
	Stop, Start remote.Cmd
	// By names what runs the engine, for messages.
	By string
}

// StopStart decides, from the facts alone, how to stop the running engine
// and start it again through what runs it: systemd (docker.socket too, or
// a socket activation would start it again), the init script, or a lab
// VPS's init (HoldDockerd). A dockerd that was started by hand, or is PID 1,
// is refused: shoal could not start it again as it was started.
func StopStart(f Facts) (EngineControl, error) {
	sudo := f.User != "root"
	if !f.Running() || f.DockerdPID == 0 {
		return EngineControl{}, errors.New("the engine is not running")
	}
	if f.User != "root" && !f.Sudo {
		return EngineControl{}, &NoPrivilegeError{User: f.User, Need: "stop and start docker"}
	}
	// waitGone waits until the stopped dockerd's process has exited:
	// until then it may still write its state.
	waitGone := fmt.Sprintf("i=0; while kill -0 %d 2>/dev/null; do i=$((i+1)); if [ $i -ge 300 ]; then echo 'dockerd (pid %d) did not exit within 60s' >&2; exit 1; fi; sleep 0.2; done", f.DockerdPID, f.DockerdPID)
	switch mgr := f.Manager(); {
	case mgr == ManagerSystemd:
		return EngineControl{By: f.StartedBy(),
			Stop:  remote.Cmd{Script: pathPrefix + "systemctl stop docker.socket docker.service; " + waitGone, Sudo: sudo},
			Start: remote.Cmd{Script: pathPrefix + "systemctl start docker.socket docker.service >/dev/null; " + waitDocker, Sudo: sudo},
		}, nil
	case mgr == ManagerSysV:
		return EngineControl{By: f.StartedBy(),
			Stop:  remote.Cmd{Script: pathPrefix + "/etc/init.d/docker stop >/dev/null; " + waitGone, Sudo: sudo},
			Start: remote.Cmd{Script: pathPrefix + "/etc/init.d/docker start >/dev/null; " + waitDocker, Sudo: sudo},
		}, nil
	case f.LabInit && f.DockerdPID != 1:
		return EngineControl{By: "the lab VPS's init (shoal-vps-init)",
			Stop:  remote.Cmd{Script: pathPrefix + fmt.Sprintf("touch %s && kill -TERM %d; ", HoldDockerd, f.DockerdPID) + waitGone, Sudo: sudo},
			Start: remote.Cmd{Script: pathPrefix + "rm -f " + HoldDockerd + "; " + waitDocker, Sudo: sudo},
		}, nil
	}
	return EngineControl{}, fmt.Errorf("dockerd is run by %s: shoal stops an engine only through systemd or /etc/init.d/docker, which start it again as it was", f.StartedBy())
}
