# bash completion for blkd(8).  Install as
# /usr/share/bash-completion/completions/blkd (or source it).

_blkd()
{
    local cur prev
    COMPREPLY=()
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "serve ctl --help --version" -- "$cur"))
        return
    fi
    case ${COMP_WORDS[1]} in
    ctl)
        if [ "$COMP_CWORD" -eq 2 ]; then
            COMPREPLY=($(compgen -f -- "$cur"))
        elif [ "$COMP_CWORD" -eq 3 ]; then
            COMPREPLY=($(compgen -W "stats scheduler paths fail_path reinstate_path
                switch_group queue_if_no_path fail_if_no_path" -- "$cur"))
        elif [ "${COMP_WORDS[3]}" = scheduler ] && [ "$COMP_CWORD" -eq 5 ]; then
            COMPREPLY=($(compgen -W "noop deadline fair" -- "$cur"))
        fi
        return ;;
    esac
    case $prev in
    -s|--scheduler) COMPREPLY=($(compgen -W "noop deadline fair" -- "$cur")); return ;;
    --ordered) COMPREPLY=($(compgen -W "none drain drain-flush drain-fua tag tag-flush tag-fua" -- "$cur")); return ;;
    --fua) COMPREPLY=($(compgen -W "native emulate" -- "$cur")); return ;;
    --selector) COMPREPLY=($(compgen -W "round-robin queue-length service-time" -- "$cur")); return ;;
    --failback) COMPREPLY=($(compgen -W "immediate manual" -- "$cur")); return ;;
    -U|--unix|-C|--control|-P|--pidfile|--stats|--trace|--trace-text) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    -p|--port|-i|--ip|-x|--export-name|-d|--description|-t|--threads|--max-merge|--max-inflight|--poll|--trace-name|--path|--queue-if-no-path|--queue-max|--checker-interval|--io-timeout) return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "--unix --port --ip --export-name --description --scheduler
            --read-only --foreground --pidfile --threads --max-merge --ordered --direct
            --no-mmap --fua --max-inflight --poll --control --stats --trace --trace-name
            --trace-text --path --selector --failback --queue-if-no-path --queue-max
            --checker-interval --io-timeout --verbose --help --version" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}
complete -F _blkd blkd
