# Shared by the test scripts: `source scripts/lib.sh`.

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_listening NAME PID PORT LOG: waits (at most 30 s) until PID listens
# on PORT; fails with LOG if it exits first or never listens.
wait_listening() {
  local name=$1 pid=$2 port=$3 log=$4
  for _ in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name: exited at start:" >&2
      cat "$log" >&2
      return 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "$name: not listening after 30 s" >&2
  cat "$log" >&2
  return 1
}

# stop_at_exit PID DIR: when the script exits, stops PID, waits for it and
# removes DIR.
stop_at_exit() {
  _stop_pid=$1 _stop_dir=$2
  trap _stop_now EXIT
}
_stop_now() {
  kill "$_stop_pid" 2>/dev/null || true
  wait "$_stop_pid" 2>/dev/null || true
  rm -rf "$_stop_dir"
}
