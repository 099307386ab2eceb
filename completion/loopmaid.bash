# bash completion for loopmaid(1).
#
# Options are read from `loopmaid help COMMAND` (the CLI's own help text), so
# a new option completes without touching this file; the words that follow
# an option (views, formats, state vocabularies) are listed here, and
# scripts/package-check.sh checks them against the help text.

_loopmaid_opts()
{
    # Every --long and -s option the help of $1 names, once each.
    "${_loopmaid_cmd:-loopmaid}" help "$1" 2>/dev/null |
        grep -oE '(^|[ ,])--?[a-zA-Z][a-zA-Z-]*' | tr -d ' ,' | sort -u
}

_loopmaid()
{
    local cur prev words cword
    if declare -F _init_completion >/dev/null 2>&1; then
        _init_completion || return
    else
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD-1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi
    local _loopmaid_cmd=${words[0]}

    local commands="render inspect build help diff export convert"
    if [ "$cword" -eq 1 ]; then
        COMPREPLY=($(compgen -W "$commands --help --version" -- "$cur"))
        return
    fi

    local cmd=${words[1]}
    case "$prev" in
        --view)
            COMPREPLY=($(compgen -W "state sequence flowchart tasks gantt advise" -- "$cur"))
            return ;;
        --format)
            COMPREPLY=($(compgen -W "mmd md" -- "$cur"))
            return ;;
        --states)
            COMPREPLY=($(compgen -W "loopmaid asyncio seed002" -- "$cur"))
            return ;;
        -o|--output)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        -c|--config)
            COMPREPLY=($(compgen -f -X '!*.@(yaml|yml)' -- "$cur"))
            compopt -o plusdirs 2>/dev/null
            return ;;
        --tasks|--exclude|--title|--max-*|--from|--to|--timeout)
            return ;;
    esac

    case "$cmd" in
        help)
            [ "$cword" -eq 2 ] && COMPREPLY=($(compgen -W "$commands" -- "$cur"))
            return ;;
        render|inspect|build|diff|export|convert)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$(_loopmaid_opts "$cmd")" -- "$cur"))
            elif [ "$cmd" = build ]; then
                # Diagram names from the config in the current directory.
                local cfg=loopmaid.yaml i
                for ((i = 2; i < cword; i++)); do
                    case "${words[i]}" in -c|--config) cfg=${words[i+1]} ;; esac
                done
                [ -r "$cfg" ] && COMPREPLY=($(compgen -W \
                    "$(sed -n 's/^[[:space:]]*-[[:space:]]*name:[[:space:]]*\([A-Za-z0-9_.-]*\).*/\1/p' "$cfg")" \
                    -- "$cur"))
            elif [ "$cmd" = convert ]; then
                # convert reads binary traces (LOOPMAID_TRACE=FILE.lmt).
                COMPREPLY=($(compgen -f -X '!*.lmt' -- "$cur"))
                compopt -o plusdirs 2>/dev/null
            else
                # Every command reads a YAML or a binary (.lmt) trace.
                COMPREPLY=($(compgen -f -X '!*.@(yaml|yml|lmt)' -- "$cur"))
                compopt -o plusdirs 2>/dev/null
            fi
            return ;;
    esac
}
complete -F _loopmaid loopmaid
