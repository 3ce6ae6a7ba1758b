#!/bin/sh
# Not executable: the agent skips it (a test is run only when it has its
# executable bit).
echo "never printed"
