#!/bin/sh
# Fails on purpose, with its reason on stderr: the demo host has no
# backup target.
echo "checking the backup target demo-nas"
echo "demo-nas: no route to host (this test fails on purpose)" >&2
exit 2
