# SPDX-License-Identifier: MIT
# bash completion for mmpager(1).  Install as
# /usr/share/bash-completion/completions/mmpager (or source it).

_mmpager()
{
    local cur prev
    COMPREPLY=()
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "bench stat serve --help --version" -- "$cur"))
        return
    fi
    case $prev in
    --workload|-w) COMPREPLY=($(compgen -W "randread seqscan randwrite sort" -- "$cur")); return ;;
    --ptl) COMPREPLY=($(compgen -W "split global" -- "$cur")); return ;;
    --engine) COMPREPLY=($(compgen -W "mmpager mmap" -- "$cur")); return ;;
    --snapshot|--socket) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --page-size|-p|--buffer|-b|--fillers|-f|--evictors|-e|--threads|-t|--ops|-n) return ;;
    esac
    case ${COMP_WORDS[1]} in
    bench)
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "--workload --page-size --buffer --fillers --evictors
                --ptl --threads --ops --engine --help" -- "$cur"))
        else
            COMPREPLY=($(compgen -f -- "$cur"))
        fi ;;
    stat) COMPREPLY=($(compgen -W "$(cd /proc && echo [0-9]*)" -- "$cur")) ;;
    serve) [[ $cur == -* ]] && COMPREPLY=($(compgen -W "--snapshot --socket --no-prefetch --timeout --help" -- "$cur")) ;;
    esac
}
complete -F _mmpager mmpager
