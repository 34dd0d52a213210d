# tests/tools/zsh_complete.zsh — type a line into an interactive zsh,
# press TAB and print what zsh shows: how test_man_completion.sh checks the
# zsh completion as a user would meet it.
#   COMPDIR=folder-with-_certsync WORKDIR=folder LINE='certsync pl' zsh -f zsh_complete.zsh
zmodload zsh/zpty
zpty z 'TERM=dumb zsh -f -i'
zpty -w z "PS1='> '; fpath=($COMPDIR \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w z "zstyle ':completion:*' list-prompt ''; zstyle ':completion:*' menu no; LISTMAX=1000; unsetopt zle_bracketed_paste 2>/dev/null; cd $WORKDIR; print READY"
zpty -r z out '*READY*'
zpty -n -w z "$LINE"$'\t'
local all="" chunk
integer i quiet=0
# Read until zsh has said something and then stayed quiet for 0.5 s (at
# most 10 s): completion may run certsync, which takes a moment.
for (( i = 0; i < 100 && (quiet < 5 || ${#all} == 0); i++ )); do
	sleep 0.1
	if zpty -r -t z chunk 2>/dev/null; then
		all+=$chunk
		while zpty -r -t z chunk 2>/dev/null; do all+=$chunk; done
		quiet=0
	else
		(( quiet++ ))
	fi
done
print -r -- $all
zpty -d z
