package proc

import (
	"os/exec"
	"syscall"
)

// orphanProof makes the kernel kill the child when this program dies, even by SIGKILL or a test
// timeout, so that no server outlives the run. Go sets the parent-death signal after switching
// to as's credentials, so the switch (which clears it) does not undo it.
func orphanProof(cmd *exec.Cmd, as *User) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if as != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: as.UID, Gid: as.GID}
	}
}
