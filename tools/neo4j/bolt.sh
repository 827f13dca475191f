# Probes of a Bolt port on 127.0.0.1, sourced by the scripts beside it.

# True when a Bolt server on 127.0.0.1:$1 completes the Bolt handshake
# (proposes 5.0-5.8 and 4.4; any non-zero agreed version counts).
bolt_answers() {
    local reply
    reply=$(timeout 5 bash -c '
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf "\x60\x60\xb0\x17\x00\x08\x08\x05\x00\x00\x04\x04\x00\x00\x00\x00\x00\x00\x00\x00" >&3
        head -c 4 <&3 | od -An -tx1' _ "$1" 2>/dev/null) || return 1
    reply=${reply//[[:space:]]/}
    [[ ${#reply} -eq 8 && $reply != 00000000 ]]
}

# True when anything accepts TCP connections on 127.0.0.1:$1.
port_busy() {
    timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}
