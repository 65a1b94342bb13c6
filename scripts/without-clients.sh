#!/usr/bin/env bash
# Runs a command as on a fresh machine with only Node and npm: the external S3 clients
# the e2e tests drive (aws CLI, boto3, rclone, s3cmd, curl, sslscan) are hidden in a
# private mount namespace. Needs root (unshare -m). Example:
#   sudo scripts/without-clients.sh npm test
set -euo pipefail
exec unshare -m bash -c '
  set -e
  empty=$(mktemp -d)
  for bin in aws rclone s3cmd curl sslscan; do
    for p in $(type -ap "$bin" 2>/dev/null) /usr/bin/$bin; do
      [ -e "$p" ] && mount --bind /dev/null "$p"
    done
  done
  for dir in $(python3 -c "import boto3, os; print(os.path.dirname(boto3.__file__))" 2>/dev/null) \
             $(/usr/bin/python3 -c "import boto3, os; print(os.path.dirname(boto3.__file__))" 2>/dev/null); do
    mount --bind "$empty" "$dir"
  done
  exec "$@"
' bash "$@"
