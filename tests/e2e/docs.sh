#!/usr/bin/env bash
# The documentation drift check (issue 14): every command, option and config key that the
# code has is in the man pages and in --help, and every one they document exists in the code.
# The code's side is `tend __doc-lists`, printed from the tables the code itself dispatches
# and parses with (main.c's commands, client.c's verbs, keys.c's key tables); the documents'
# side is read from man/tend.1, man/tend.conf.5, README.md and the --help texts.
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)

# A roff source as plain text: escapes and font changes gone, request names dropped.
plain() {
    sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\(aq/'"'"'/g' -e 's/\\&//g' \
        -e 's/^\.[A-Z][A-Z]* *//' -e 's/"//g' "$1"
}
# The roff between two section headers (ERE on the .SH/.SS line), START included.
roff_between() {   # FILE START-ERE END-ERE
    awk -v s="$2" -v e="$3" '$0 ~ s {on=1} on && $0 ~ e && $0 !~ s {exit} on' "$1"
}
lists() { "$TEND" __doc-lists; }
commands() { lists | awk '$1 == "command" {print $2}'; }
options_of() { lists | awk -v c="$1" '$1 == "option" && $2 == c {print $3}'; }
keys_of() { lists | awk -v s="$1" -v w="$2" '$1 == "key" && $2 == s && $4 == w {print $3}'; }

re() { printf '%s' "$1" | sed 's/[][\.*^$(){}?+|/]/\\&/g'; }   # STRING as a literal ERE
problems=()
problem() { problems+=("$*"); }
report() {
    if [ ${#problems[@]} -gt 0 ]; then
        printf '  %s\n' "${problems[@]}"
        fail "${#problems[@]} documentation problem(s)"
    fi
}

# ---------------------------------------------------------------------------------------------

# Every command is an entry of tend(1)'s COMMANDS, a line of `tend --help`, and in the README;
# every entry of COMMANDS and every command line of --help is a command.
t_commands_documented_both_ways() {
    local cmds man help readme c w
    cmds=$(commands)
    [ -n "$cmds" ] || fail "tend __doc-lists printed no command"
    # The first word of each COMMANDS item (before "Naming processes").
    roff_between "$ROOT/man/tend.1" '^\.SH COMMANDS' '^\.S[SH] ' >"$T/cmds.roff"
    man=$(awk '/^\.TP/{getline; print}' "$T/cmds.roff" | sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' \
        -e 's/^\.[A-Z]* *//' -e 's/"//g' | tr ' |,' '\n\n\n' | grep -E '^[a-z]+$')
    help=$("$TEND" --help | grep -E '^  [a-z]' | awk '{print $1}' | tr '|' '\n')
    readme=$(sed -n '/^## tend$/,/^## /p' "$ROOT/README.md")
    for c in $cmds; do
        printf '%s\n' "$man" | grep -qx "$c" || problem "command '$c' is not an item of tend(1) COMMANDS"
        [ "$c" = help ] && continue   # --help itself is the list
        printf '%s\n' "$help" | grep -qx "$c" || problem "command '$c' is not in tend --help"
        [ "$c" = daeml ] && continue  # README has its own daeml section
        printf '%s\n' "$readme" | grep -Eq "tend ([a-z]+\|)*$c\b" ||
            problem "command '$c' is not in the README's tend synopsis"
    done
    for w in $man $help; do
        printf '%s\n' "$cmds" | grep -qx "$w" || problem "'$w' is documented as a command but tend has none"
    done
    report
}

# Every option of every command is in tend(1) and in `tend COMMAND --help`; every option that
# `tend COMMAND --help` shows is one the command takes.
t_options_documented_both_ways() {
    local c o help man aliases
    man=$(plain "$ROOT/man/tend.1")
    # Long spellings of the short options (the parser takes both).
    aliases='--config:-c --socket:-s --help:-h --lines:-n --follow:-f --nodaemon:-n'
    for c in $(commands); do
        [ "$c" = help ] || [ "$c" = daeml ] && continue   # daeml: daeml(8), checked below
        help=$("$TEND" "$c" --help 2>&1 | sed 's/\[[^]]*NAME[^]]*\]//g')
        for o in $(options_of "$c"); do
            printf '%s\n' "$man" | grep -qe "$o\b" || problem "$c: option $o is not in tend(1)"
            [ "$o" = -h ] && continue
            [ "$o" = -c ] || [ "$o" = -s ] && [ "$c" != daemon ] && [ "$c" != check ] && continue
            printf '%s\n' "$help" | grep -qe "$o\b" || problem "$c: option $o is not in tend $c --help"
        done
        # The options shown: on the Usage line, and at the start of the option lines.
        for o in $(printf '%s\n' "$help" | grep -E '^Usage:|^ +-' | sed -E 's/^( +-[^ ]*( [A-Z]+)?,? *(-[^ ]*)?).*/\1/' |
                   grep -oE '(^|[][ (|,])--?[a-zA-Z][a-z-]*' | sed 's/^[][ (|,]//' | sort -u); do
            local short=$o a
            for a in $aliases; do [ "${a%%:*}" = "$o" ] && short=${a#*:}; done
            options_of "$c" | grep -qx -- "$short" ||
                problem "tend $c --help shows $o, which $c does not take"
        done
    done
    # daeml: its options in daeml(8) and daeml --help, and the reverse.
    man=$(plain "$ROOT/man/daeml.8")
    help=$("$TEND" daeml --help 2>&1)
    for o in $(options_of daeml); do
        printf '%s\n' "$man" | grep -qe "$o\b" || problem "daeml: option $o is not in daeml(8)"
        printf '%s\n' "$help" | grep -qe "$o\b" || problem "daeml: option $o is not in daeml --help"
    done
    for o in $(printf '%s\n' "$help" | grep -oE '^  --[a-z-]+|, --[a-z-]+' | sed 's/^[ ,]*//'); do
        options_of daeml | grep -qx -- "$o" || problem "daeml --help shows $o, which daeml does not take"
    done
    report
}

# Every key of the code's tables is in tend.conf(5): a supported one as an entry of its
# section's SETTINGS, an unsupported one named as warned about; every entry of the SETTINGS
# sections is a supported key of that section.
t_keys_documented_both_ways() {
    local sec manre k documented man
    man=$(plain "$ROOT/man/tend.conf.5")
    for sec in tend program group alert eventlistener fcgi-program; do
        case $sec in
            eventlistener) manre='.SH [eventlistener:NAME] SETTINGS' ;;
            fcgi-program) manre='.SH [fcgi-program:NAME] SETTINGS' ;;
            tend) manre='.SH [tend] SETTINGS' ;;
            program) manre='.SH [program:NAME] SETTINGS' ;;
            group) manre='.SH [group:NAME] SETTINGS' ;;
            alert) manre='.SH ALERTS' ;;
        esac
        # Entries: the bold words of each .TP line before its "(type; default)" (quoted text
        # is roman), in that section (for [tend], with its [unix_http_server] subsection),
        # outside indented lists (.RS/.RE: a key's values).
        documented=$(awk -v s="$manre" '$0 == s {on=1; next} on && /^\.SH / {exit} on' \
                "$ROOT/man/tend.conf.5" | awk '/^\.RS/{d++} /^\.RE/{d--} /^\.TP/ && !d {getline; print}' |
            sed -e 's/(.*//' -e 's/"[^"]*"//g' -e 's/\\fB\([a-z_]*\)\\fR/ \1 /g' -e 's/\\f[BIRP]//g' \
                -e 's/^\.[A-Z]* *//' | tr ' ,' '\n\n' | grep -E '^[a-z][a-z0-9_]*$' | sort -u)
        local code
        code=$(keys_of "$sec" supported
               if [ "$sec" = tend ]; then
                   keys_of unix_http_server supported
                   keys_of inet_http_server supported
               fi)
        for k in $code; do
            printf '%s\n' "$documented" | grep -qx "$k" ||
                problem "[$sec] key '$k' is not an entry of tend.conf(5)"
        done
        for k in $documented; do
            printf '%s\n' "$code" | grep -qx "$k" ||
                problem "tend.conf(5) documents [$sec] key '$k', which tend does not know"
        done
        for k in $(keys_of "$sec" unsupported
                   if [ "$sec" = tend ]; then keys_of unix_http_server unsupported; fi); do
            printf '%s\n' "$man" | grep -qw -- "$k" ||
                problem "[$sec] key '$k' (warned about) is not named in tend.conf(5)"
        done
    done
    for k in $(keys_of include supported); do
        printf '%s\n' "$man" | grep -qw -- "$k" || problem "[include] key '$k' is not in tend.conf(5)"
    done
    report
}

# The migration page's key table has one row per key of the code, "yes" for a supported key
# and "warned" for one tend warns about, and no row for a key the code does not have.
t_migration_key_table() {
    local page=$ROOT/doc/migrating-from-supervisord.md sec key how want rows
    rows=$(grep -E '^\| \[[a-z_-]+\] \| [a-z_]+ \| (yes|warned) \|' "$page" |
        awk -F' *\\| *' '{print $2, $3, $4}')
    [ -n "$rows" ] || fail "no key table in $page"
    while read -r sec key how; do
        local code_sec=${sec//[][]/}
        [ "$code_sec" = supervisord ] && code_sec=tend
        want=$(lists | awk -v s="$code_sec" -v k="$key" '$1 == "key" && $2 == s && $3 == k {print $4}')
        case $want in
            supported) [ "$how" = yes ] || problem "$sec $key is supported, the page says $how" ;;
            unsupported) [ "$how" = warned ] || problem "$sec $key is warned about, the page says $how" ;;
            *) problem "the page lists $sec $key, which tend does not know" ;;
        esac
    done <<<"$rows"
    while read -r _ sec key _; do
        local page_sec="[$sec]"
        [ "$sec" = tend ] && page_sec="[supervisord]"
        printf '%s\n' "$rows" | grep -Eqx -- "$(re "$page_sec") $key (yes|warned)" ||
            problem "key $page_sec $key is not in the migration page's table"
    done < <(lists | grep '^key ')
    report
}

# The README's dependency table lists every package scripts/deps.sh installs.
t_readme_lists_dependencies() {
    local p
    for p in $(sh "$ROOT/scripts/deps.sh" --list all); do
        grep -q -- "$p" "$ROOT/README.md" || problem "package $p is not in the README"
    done
    report
}

run_tests
