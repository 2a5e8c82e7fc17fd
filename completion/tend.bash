# bash completion for tend and daeml. Commands and options from this file; program and group
# names from the running supervisor (`tend status`, bounded to one second, silent and empty
# when none runs). Self-contained: it does not need the bash-completion package's helpers.

# The names `tend status` lists (first column after the header), and GROUP:* for each group.
# -c/-s given earlier on the command line choose the supervisor, as they do for the command.
_tend_names()
{
    local tend=${_tw[0]} i
    local -a where=()
    for ((i = 1; i < _tcw; i++)); do
        case ${_tw[i]} in
            -c|--config|-s|--socket) where+=("${_tw[i]}" "${_tw[i+1]}") ;;
        esac
    done
    timeout 1 "$tend" "${where[@]}" status 2>/dev/null |
        awk 'NR > 1 && $1 != "" { print $1; i = index($1, ":")
                                   if (i && !seen[substr($1, 1, i)]++) print substr($1, 1, i) "*" }'
}

# The words up to the cursor, split on blanks only, into _tw (_tcw: the index of the word being
# completed). bash's own COMP_WORDS splits "web:a" into "web" ":" "a" (':' is in
# COMP_WORDBREAKS); COMP_LINE keeps the words as the user sees them.
_tend_words()
{
    if [ -n "${COMP_LINE-}" ]; then
        local line=${COMP_LINE:0:${COMP_POINT:-${#COMP_LINE}}}
        read -ra _tw <<<"$line"
        [[ -z $line || $line == *[[:space:]] ]] && _tw+=("")
    else
        _tw=("${COMP_WORDS[@]:0:COMP_CWORD+1}")
    fi
    _tcw=$((${#_tw[@]} - 1))
}

_tend()
{
    local -a _tw; local _tcw; _tend_words
    local cur=${_tw[_tcw]} prev=${_tw[_tcw-1]}
    local commands="daemon check status start stop restart signal reload shutdown pid logs
        logrotate daeml help"
    local verb="" verb_i=0 i nargs=0
    COMPREPLY=()

    case $prev in
        -c|--config) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
        -s|--socket) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
        -n) [ "${_tw[1]}" = logs ] && return 0 ;;
    esac
    # The command word, and how many positional words follow it before the cursor.
    for ((i = 1; i < _tcw; i++)); do
        case ${_tw[i]} in
            -c|--config|-s|--socket) ((i++)) ;;
            -*) ;;
            *) if [ -z "$verb" ]; then verb=${_tw[i]} verb_i=$i; else ((nargs++)); fi ;;
        esac
    done
    if [ -z "$verb" ]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "-c --config -s --socket -h --help --version" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        fi
        return 0
    fi
    case $verb in
        daemon) COMPREPLY=($(compgen -W "-c -n --help" -- "$cur")) ;;
        check) COMPREPLY=($(compgen -W "-c --help" -- "$cur")) ;;
        status)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "--json --help" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "$(_tend_names)" -- "$cur"))
            fi ;;
        start|stop|restart)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "--no-wait --help" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "all $(_tend_names)" -- "$cur"))
            fi ;;
        signal)
            if [ "$nargs" -eq 0 ]; then
                COMPREPLY=($(compgen -W "HUP INT QUIT KILL USR1 USR2 TERM CONT STOP TSTP WINCH" \
                    -- "${cur#SIG}"))
            else
                COMPREPLY=($(compgen -W "all $(_tend_names)" -- "$cur"))
            fi ;;
        logs)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "-n -f --stderr --raw --help" -- "$cur"))
            elif [ "$nargs" -eq 0 ]; then
                COMPREPLY=($(compgen -W "$(_tend_names | grep -v ':\*$')" -- "$cur"))
            fi ;;
        pid)
            [ "$nargs" -eq 0 ] &&
                COMPREPLY=($(compgen -W "$(_tend_names | grep -v ':\*$')" -- "$cur")) ;;
        daeml) _daeml_from $((verb_i + 1)); return 0 ;;
        *) ;;
    esac
    # GROUP:* and GROUP:name hold a colon, which bash splits words on by default (COMP_WORDBREAKS):
    # offer only what follows the last colon of the word being completed.
    if [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then
        local head=${cur%"${cur##*:}"} j
        for j in "${!COMPREPLY[@]}"; do COMPREPLY[j]=${COMPREPLY[j]#"$head"}; done
    fi
    return 0
}

# daeml's options up to PROGRAM, then commands, then files (PROGRAM's own arguments).
_daeml_from()
{
    local first=$1 cur=${_tw[_tcw]} prev=${_tw[_tcw-1]} i
    case $prev in
        --pidfile|--stdout|--stderr) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --chdir) COMPREPLY=($(compgen -d -- "$cur")); return ;;
        --user) COMPREPLY=($(compgen -u -- "$cur")); return ;;
        --group) COMPREPLY=($(compgen -g -- "$cur")); return ;;
        --umask|--syslog|--env) return ;;
    esac
    for ((i = first; i < _tcw; i++)); do
        case ${_tw[i]} in
            --pidfile|--user|--group|--chdir|--umask|--stdout|--stderr|--syslog|--env) ((i++)) ;;
            -*) ;;
            *) COMPREPLY=($(compgen -f -- "$cur")); return ;;   # past PROGRAM
        esac
    done
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "--pidfile --user --group --chdir --umask --stdout --stderr
            --syslog --env --no-close --foreground --help --version" -- "$cur"))
    else
        COMPREPLY=($(compgen -c -- "$cur"))
    fi
}

_daeml() { local -a _tw; local _tcw; _tend_words; _daeml_from 1; }

complete -F _tend tend
complete -F _daeml daeml
