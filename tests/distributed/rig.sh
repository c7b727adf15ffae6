#!/bin/bash
# A multi-host rig on one machine: each "host" is a network namespace with one address
# in 198.51.100.0/24 (TEST-NET-2, RFC 5737: used by no real network), on a veth pair
# to a bridge that lives in a namespace of its own. The hosts have no route but that
# /24, and nothing of the rig touches the machine's own network namespace.
#
#   rig.sh up N          create hosts tg-h1..tg-hN (198.51.100.1..N) and the switch
#   rig.sh down          remove them (and end every process still inside them)
#   rig.sh cut HOST      silent partition: HOST's cable leaves the switch; both ends stay
#                        up with carrier, packets go nowhere (no reset, no error)
#   rig.sh mend HOST     plug the cable back in
#   rig.sh rate HOST R   limit what HOST sends to rate R (tc tbf, e.g. 100mbit); R=off clears
#   rig.sh pids          the processes still running in the rig's hosts
#   rig.sh check         exit 0 when this machine can build the rig (root, ip netns)
# Requires root and iproute2.
set -euo pipefail

PREFIX=tg-h
SWITCH=tg-switch
NET=198.51.100

host_ns() { echo "$PREFIX$1"; }
hosts() { ip netns list | awk '{print $1}' | grep "^$PREFIX[0-9]*$" | sort -V || true; }

up() {
  local n=$1
  ip netns add $SWITCH
  ip -n $SWITCH link add br0 type bridge
  ip -n $SWITCH link set br0 up
  for i in $(seq 1 "$n"); do
    local ns
    ns=$(host_ns "$i")
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    # eth0 in the host, port$i in the switch
    ip -n "$ns" link add eth0 type veth peer name "port$i" netns $SWITCH
    ip -n "$ns" addr add "$NET.$i/24" dev eth0
    ip -n "$ns" link set eth0 up
    # A connection with unacknowledged data to a host behind a cut cable is given up after
    # tcp_retries2 retransmissions: about 13 s at 5, 15 minutes at Linux's default of 15.
    # Open MPI's daemons learn of a lost peer only this way (docs/distributed.md).
    ip netns exec "$ns" sysctl -qw net.ipv4.tcp_retries2=5
    ip -n $SWITCH link set "port$i" master br0 up
  done
  # `ip netns exec` mounts /etc/netns/<ns>/* over /etc: the hosts know each other by
  # name and have no name server to ask.
  for i in $(seq 1 "$n"); do
    mkdir -p "/etc/netns/$(host_ns "$i")"
    : > "/etc/netns/$(host_ns "$i")/resolv.conf"
    { echo "127.0.0.1 localhost"; for j in $(seq 1 "$n"); do echo "$NET.$j $(host_ns "$j")"; done; } \
      > "/etc/netns/$(host_ns "$i")/hosts"
  done
}

down() {
  for ns in $(hosts) $SWITCH; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "/etc/netns/$ns"
  done
}

pids() { for ns in $(hosts); do ip netns pids "$ns"; done; }

check() {
  local why
  [ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)"; return 1; }
  command -v ip > /dev/null || { echo "needs iproute2 (ip)"; return 1; }
  why=$(ip netns add tg-probe 2>&1) || { echo "this machine refuses new network namespaces: $why"; return 1; }
  # `ip -n` enters the namespace as `ip netns exec` does (it fails in a chroot whose / is no mount point)
  why=$(ip -n tg-probe link add tgp0 type veth peer name tgp1 2>&1) ||
    { ip netns del tg-probe; echo "cannot work inside a network namespace here (ip -n: $why)"; return 1; }
  ip netns del tg-probe
}

case "${1:-}" in
  up) down; up "${2:?number of hosts}" ;;
  down) down ;;
  cut) ip -n $SWITCH link set "port${2#"$PREFIX"}" nomaster ;;
  mend) ip -n $SWITCH link set "port${2#"$PREFIX"}" master br0 ;;
  rate)
    ns=$(host_ns "${2#"$PREFIX"}")
    ip netns exec "$ns" tc qdisc del dev eth0 root 2> /dev/null || true
    [ "$3" = off ] || ip netns exec "$ns" tc qdisc add dev eth0 root tbf rate "$3" burst 256kb latency 50ms ;;
  pids) pids ;;
  check) check ;;
  *) sed -n '2,16p' "$0"; exit 2 ;;
esac
