# Shell helpers shared by the benchmark scripts (sourced, not run): the
# brokers they start are recorded in `pids`, their logs and files live in
# `$tmp`, and `cleanup` (the scripts' EXIT trap) stops them and removes it.

# Stops every process in `pids`, waits for them, removes `$tmp`.
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$tmp"
}

# Waits until 127.0.0.1:$2 accepts connections while pid $1 lives
# (10 s at most); fails if the process died or the port never opened.
wait_port() {
    local pid=$1 port=$2
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || return 1
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    return 1
}
