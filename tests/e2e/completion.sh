#!/usr/bin/env bash
# End-to-end tests of the shell completion files (completion/tend.bash, completion/_tend):
# bash registers them (`complete -p`), completes commands and options, and completes program
# and group names that a real, running `tend daemon` reports, for the supervisor that -s or
# -c on the command line names; with no supervisor it completes what it can, silently. zsh
# loads _tend through compinit and gets the same names.
#
# A completion call is what bash does on TAB: COMP_WORDS, COMP_CWORD (and COMP_LINE,
# COMP_POINT for a word holding ':'), then the function; COMPREPLY is the answer.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/tendcase.bash"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)

# complete WORD...: the replies (sorted, one line) of bash's completion of the last WORD.
complete_words() {
    bash -c '. "$1/completion/tend.bash"; shift
             COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
             case ${COMP_WORDS[0]} in *daeml) _daeml ;; *) _tend ;; esac
             [ ${#COMPREPLY[@]} -eq 0 ] || printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' _ "$ROOT" "$@" 2>>"$T/comp.err"
}
# complete_line LINE: the same for a command line as typed (bash splits at ':').
complete_line() {
    bash -c '. "$1/completion/tend.bash"; COMP_LINE=$2; COMP_POINT=${#2}
             read -ra COMP_WORDS <<<"$2"; COMP_CWORD=${#COMP_WORDS[@]}; _tend
             [ ${#COMPREPLY[@]} -eq 0 ] || printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' _ "$ROOT" "$1" 2>>"$T/comp.err"
}

conf_programs() {
    write_conf <<EOF
[program:one]
command=$H/sleeper
[program:a]
command=$H/sleeper
[program:b]
command=$H/sleeper
numprocs=2
process_name=%(program_name)s_%(process_num)d
[group:web]
programs=a,b
EOF
}

t_bash_registers() {
    local out
    out=$(bash -c '. "$1/completion/tend.bash"; complete -p tend; complete -p daeml' _ "$ROOT")
    expect_eq "$out" $'complete -F _tend tend\ncomplete -F _daeml daeml' "complete -p"
}

t_bash_commands_and_options() {
    expect_eq "$(complete_words tend st)" "start status stop " "tend st"
    expect_eq "$(complete_words tend re)" "reload restart " "tend re"
    expect_eq "$(complete_words tend restart --n)" "--no-wait " "tend restart --n"
    expect_eq "$(complete_words tend status --j)" "--json " "tend status --j"
    expect_eq "$(complete_words tend signal T)" "TERM TSTP " "tend signal T"
    expect_eq "$(complete_words tend --so)" "--socket " "tend --so"
    expect_eq "$(complete_words tend daeml --ch)" "--chdir " "tend daeml --ch"
    expect_eq "$(complete_words daeml --no)" "--no-close " "daeml --no"
    expect_eq "$(complete_words daeml --user roo)" "root " "daeml --user roo"
    [ ! -s "$T/comp.err" ] || fail "completion wrote to stderr: $(cat "$T/comp.err")"
}

t_bash_names_from_running_supervisor() {
    setup
    conf_programs
    start_tend
    local all="all one web:* web:a web:b_0 web:b_1 "
    expect_eq "$(complete_words "$TEND" -s "$T/tend.sock" restart "")" "$all" "restart <TAB>"
    expect_eq "$(complete_words "$TEND" -c "$CONF" stop "")" "$all" "-c CONF stop <TAB>"
    expect_eq "$(complete_words "$TEND" -s "$T/tend.sock" status o)" "one " "status o<TAB>"
    expect_eq "$(complete_words "$TEND" -s "$T/tend.sock" signal HUP "")" "$all" "signal HUP <TAB>"
    # logs and pid take one process: no groups, no 'all'.
    expect_eq "$(complete_words "$TEND" -s "$T/tend.sock" logs "")" "one web:a web:b_0 web:b_1 " \
        "logs <TAB>"
    # As typed: bash splits web:b at ':', the reply is the part after it.
    expect_eq "$(complete_line "$TEND -s $T/tend.sock restart web:b")" "b_0 b_1 " "restart web:b"
    expect_eq "$(complete_line "$TEND -s $T/tend.sock restart web:")" "* a b_0 b_1 " "restart web:"
    # A name added by a reload is there at the next TAB.
    printf '[program:late]\ncommand=%s\n' "$H/sleeper" >>"$CONF"
    tendctl reload >/dev/null
    expect_match "$(complete_words "$TEND" -s "$T/tend.sock" start "")" " late " "after reload"
    [ ! -s "$T/comp.err" ] || fail "completion wrote to stderr: $(cat "$T/comp.err")"
    stop_tend
}

t_bash_no_supervisor_is_silent() {
    expect_eq "$(complete_words "$TEND" -s "$T/none.sock" stop "")" "all " "stop <TAB>, none running"
    expect_eq "$(complete_words "$TEND" -s "$T/none.sock" logs "")" "" "logs <TAB>, none running"
    [ ! -s "$T/comp.err" ] || fail "completion wrote to stderr: $(cat "$T/comp.err")"
}

t_zsh_loads_and_names() {
    command -v zsh >/dev/null || skip "zsh not installed (scripts/deps.sh installs it)"
    setup
    conf_programs
    start_tend
    mkdir fn && cp "$ROOT/completion/_tend" fn/
    # compinit binds _tend to tend and daeml; _tend_names (what the process arguments of
    # start/stop/... complete from) lists the running supervisor's names. compadd only works
    # inside a completion widget, so here it prints what it would have offered.
    zsh -f -c '
        fpath=("$1" $fpath); autoload -Uz compinit; compinit -u -d "$2/zcompdump"
        print -r -- "tend=$_comps[tend] daeml=$_comps[daeml]"
        autoload -Uz _tend; functions -c _tend _tend_load 2>/dev/null
        compadd() { local a=${@[-1]}; (( ${#${(P)a}} == 0 )) || print -rl -- ${(P)a}; }
        _arguments() { return 0; }; _describe() { return 0; }
        service=tend words=(tend); CURRENT=1; _tend >/dev/null 2>&1
        _tend_cmd=$3 _tend_where=(-s $2/tend.sock) _tend_names | sort | tr "\n" " "; print
        _tend_cmd=$3 _tend_where=(-s $2/tend.sock) _tend_names --no-groups | sort | tr "\n" " "
        print
        _tend_cmd=$3 _tend_where=(-s $2/none.sock) _tend_names | wc -l
    ' _ "$T/fn" "$T" "$TEND" >zsh.out 2>zsh.err || { cat zsh.err; fail "zsh"; }
    expect_eq "$(sed -n 1p zsh.out)" "tend=_tend daeml=_tend" "compinit bindings"
    expect_eq "$(sed -n 2p zsh.out)" "one web:* web:a web:b_0 web:b_1 " "zsh names"
    expect_eq "$(sed -n 3p zsh.out)" "one web:a web:b_0 web:b_1 " "zsh names, no groups"
    expect_eq "$(sed -n 4p zsh.out | tr -d ' ')" 0 "zsh names, no supervisor"
    [ ! -s zsh.err ] || fail "zsh wrote to stderr: $(cat zsh.err)"
    stop_tend
}

run_tests
