# bash completion for certsync: commands, their flags, and the host and
# certificate names of the config for --target (asked of
# `certsync validate --list-targets`, so it knows exactly what certsync does).

_certsync_config() {
	# The config the command line names (-c FILE / --config FILE /
	# --config=FILE), else what certsync itself would read.
	local i word
	for ((i = 1; i < COMP_CWORD; i++)); do
		word=${COMP_WORDS[i]}
		case $word in
		-c | --config) echo "${COMP_WORDS[i + 1]}"; return ;;
		--config=*) echo "${word#--config=}"; return ;;
		esac
	done
	echo "${CERTSYNC_CONFIG:-certsync.yaml}"
}

_certsync() {
	local cur prev cmd
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	local commands="apply calendar discover help init metrics plan state status validate version"

	if ((COMP_CWORD == 1)); then
		mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
		return
	fi
	cmd=${COMP_WORDS[1]}

	case $prev in
	-c | --config)
		mapfile -t COMPREPLY < <(compgen -f -X '!*.@(yaml|yml)' -- "$cur"; compgen -d -- "$cur")
		return ;;
	--log-format)
		mapfile -t COMPREPLY < <(compgen -W "text json" -- "$cur")
		return ;;
	-o | --out | --output | --new-key)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return ;;
	--format)
		case $cmd in
		plan) mapfile -t COMPREPLY < <(compgen -W "text json markdown" -- "$cur") ;;
		status) mapfile -t COMPREPLY < <(compgen -W "text json html" -- "$cur") ;;
		esac
		return ;;
	--host)
		local names
		names=$(certsync validate -c "$(_certsync_config)" --list-targets 2>/dev/null | sed -n 's/^host=//p')
		mapfile -t COMPREPLY < <(compgen -W "$names" -- "$cur")
		return ;;
	--root)
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		return ;;
	--endpoint)
		return ;;
	--target)
		local names
		names=$(certsync validate -c "$(_certsync_config)" --list-targets 2>/dev/null)
		# calendar selects certificates only
		[[ $cmd == calendar ]] && names=$(grep '^cert=' <<<"$names")
		mapfile -t COMPREPLY < <(compgen -W "$names" -- "$cur")
		return ;;
	esac

	local flags=""
	case $cmd in
	apply) flags="-c --config --yes --auto-approve --lock-timeout --log-format -v --verbose --target --help" ;;
	state)
		if [[ $prev == state ]] || ! [[ " ${COMP_WORDS[*]} " =~ \ (migrate|push|pull|rekey)\  ]] && [[ $cur != -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "migrate push pull rekey" -- "$cur")
			return
		fi
		flags="-c --config --lock-timeout --new-key --help" ;;
	calendar) flags="-c --config -o --target --help" ;;
	discover) flags="-c --config --host --endpoint --adopt --root -o --output --help" ;;
	init) flags="-c --config --help" ;;
	metrics) flags="-c --config --no-probe --target --help" ;;
	plan) flags="-c --config -o --out --json --format --detailed-exitcode --target --help" ;;
	status) flags="-c --config --json --format -o --output --target --help" ;;
	validate) flags="-c --config --list-targets --help" ;;
	help)
		((COMP_CWORD == 2)) && mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
		return ;;
	*) return ;;
	esac
	if [[ $cmd == apply && $cur != -* ]]; then
		# a saved plan file
		mapfile -t COMPREPLY < <(compgen -W "$flags" -- "$cur"; compgen -f -- "$cur")
		return
	fi
	mapfile -t COMPREPLY < <(compgen -W "$flags" -- "$cur")
}
complete -F _certsync certsync
