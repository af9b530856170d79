package proc

import (
	"os/exec"
	"syscall"
)

// orphanProof makes the kernel kill the child when this program dies, even by SIGKILL or a test
// timeout, so that no server outlives the run.
func orphanProof(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
