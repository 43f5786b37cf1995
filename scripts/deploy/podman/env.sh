# Sourced by scripts/deploy/*.sh before podman/buildah: on a machine where the
# default runtime settings cannot start a container (cgroup v1/v2 hybrid, which
# crun refuses; no CAP_SYS_RESOURCE, so the default resource limits cannot be
# set), point CONTAINERS_CONF at ./containers.conf (runc, lower limits).
# A CONTAINERS_CONF already set is left alone.
if [ -z "${CONTAINERS_CONF:-}" ]; then
  _caps=$(awk '/^CapBnd:/ {print $2}' /proc/self/status 2>/dev/null)
  if [ -d /sys/fs/cgroup/unified ] || { [ -n "$_caps" ] && [ $(( 0x$_caps >> 24 & 1 )) = 0 ]; }; then
    export CONTAINERS_CONF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/containers.conf"
  fi
  unset _caps
fi
