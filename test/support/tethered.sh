#!/usr/bin/env bash
# Runs a command for as long as the process that started it lives. The test
# harness stops what it starts in afterAll and on exit, but a test runner that
# is killed outright (SIGKILL, OOM) runs no hook: then this loop notices the
# parent is gone and stops the command, so no etcd or kube-apiserver outlives
# the test run.
parent=$PPID
"$@" &
child=$!
nap=""
# The pending `sleep` goes too: nothing started here outlives the tether.
stop() { [ -n "$nap" ] && kill "$nap" 2>/dev/null; kill -TERM "$child" 2>/dev/null; wait "$child"; exit $?; }
trap stop TERM INT
while kill -0 "$parent" 2>/dev/null; do
  if ! kill -0 "$child" 2>/dev/null; then wait "$child"; exit $?; fi
  sleep 0.5 & nap=$!
  wait "$nap"
done
stop
