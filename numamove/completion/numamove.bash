# bash completion for numamove(8).  Install as
# /usr/share/bash-completion/completions/numamove (or source it).

_numamove_nodes()
{
    local n
    for n in /sys/devices/system/node/node[0-9]*; do
        [ -e "$n" ] && echo "${n##*node}"
    done
}

_numamove()
{
    local cur prev
    COMPREPLY=()
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    case $prev in
    --from|--to) COMPREPLY=($(compgen -W "$(_numamove_nodes)" -- "$cur")); return ;;
    --cgroup) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    --retries|--budget-ms|--interval|--rounds|--min-mib) return ;;
    esac
    if [ "$COMP_CWORD" -eq 1 ] && [[ $cur != -* ]]; then
        COMPREPLY=($(compgen -W "inspect vacate follow $(cd /proc && echo [0-9]*)" -- "$cur"))
        return
    fi
    if [ "$COMP_CWORD" -eq 2 ] && [[ $cur != -* ]]; then
        case ${COMP_WORDS[1]} in
        inspect|follow) COMPREPLY=($(compgen -W "$(cd /proc && echo [0-9]*)" -- "$cur")); return ;;
        vacate) COMPREPLY=($(compgen -W "$(_numamove_nodes)" -- "$cur")); return ;;
        esac
    fi
    COMPREPLY=($(compgen -W "--from --to --dry-run --policy --own-only --retries --budget-ms
        --json --progress --no-progress --quiet --force --cgroup --interval --once --rounds
        --min-mib --help --version" -- "$cur"))
}
complete -F _numamove numamove
