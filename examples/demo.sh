#!/usr/bin/env bash
# A walk-through of zrobot with the "counter" example template: every step prints the shell
# command it runs, then its output. It starts nothing and loads nothing itself: run the robot
# first, in another terminal, with this folder as a template source:
#
#     sudo build/fs/zrobot run --templates examples
#     bash examples/demo.sh            # or: bash examples/demo.sh /path/to/mount
#
# The mount point is $1, default /zr. The demo creates the service counter/demo and deletes it
# at the end.
set -euo pipefail

root=${1:-/zr}
svc=$root/counter/demo

# Prints a command like a shell transcript, then runs it. A failing command is part of the
# demo (errors are shown on purpose), so its status is printed instead of ending the script.
step() {
	printf '\n$ %s\n' "$1"
	local rc=0
	bash -c "$1" || rc=$?
	if ((rc != 0)); then
		echo "(exit status $rc)"
	fi
}

# Says what the next steps are about.
say() {
	printf '\n# %s\n' "$*"
}

if [[ ! -d $root/counter ]]; then
	echo "demo: no $root/counter: is the robot running with --templates examples?" >&2
	exit 1
fi
# A demo interrupted earlier may have left its service behind.
if [[ -d $svc ]]; then
	rmdir "$svc"
fi

say "Every loaded template is a directory; mkdir creates a service with the default data."
step "ls $root"
step "mkdir $svc"
step "ls $svc"
step "cat $svc/data"

say "Writing to an action file queues a task; results/<action> blocks until it ends."
step "echo > $svc/actions/bump; cat $svc/results/bump"
step "echo bump > $svc/actions/bump; cat $svc/results/bump"

say "Arguments: a JSON object or key=value lines. bump's step argument also updates data (fd 3)."
step "echo step=5 > $svc/actions/bump; cat $svc/results/bump"
step "echo '{\"step\": 10}' > $svc/actions/bump; cat $svc/results/bump"
step "cat $svc/data"

say "Actions report state through fd 3; the robot adds 'actions <name> ok|error'."
step "cat $svc/state"

say "Write and read the same handle to get the result of exactly your task."
step "exec 3<>$svc/actions/bump; echo >&3; cat <&3; exec 3<&-"

say "Bad payloads are refused by the write itself (EINVAL); lasterror says why."
step "echo 'not json' > $svc/actions/bump"
step "echo seconds=abc > $svc/actions/slow"
step "cat $svc/lasterror"

say "A failing task: cat prints the error text and exits non-zero."
step "echo > $svc/actions/fail; cat $svc/results/fail"

say "A retried task: flaky fails twice, the robot retries, the third attempt succeeds."
step "echo > $svc/actions/flaky; cat $svc/results/flaky"

say "A slow task reports progress; the task directory shows it while it runs."
step "echo seconds=3 > $svc/actions/slow"
# The newest task whose action is slow; ids are unique in the robot and increase.
id=$(grep -lx slow "$svc"/tasks/*/action | awk -F/ '{ print $(NF - 1) }' | sort -n | tail -1)
step "sleep 1.5; cat $svc/tasks/$id/state $svc/tasks/$id/progress"
step "cat $svc/results/slow; cd $svc/tasks/$id && cat state started finished"

say "tick runs by itself every 2 seconds (\"every\": 2); its tasks show up with the others."
step "sleep 4; cat $svc/results/tick"
step "ls -v $svc/tasks; cat $svc/tasks/queue"

say "The service log holds every task's stderr; the events file, what happened."
step "tail -n 8 $svc/log"
step "tail -n 3 $svc/events"

say "rmdir deletes the service at once; its on_delete action (cleanup) runs afterwards."
step "rmdir $svc"
step "ls $root/counter"
step "sleep 1; grep counter/demo $root/@robot/events | tail -n 2"
