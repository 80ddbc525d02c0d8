# What every bench/run_*.sh needs, sourced after `cd` to the repository root:
#   python_venv    creates bench/work/venv once, installs bench/requirements.txt into it,
#                  and sets $venv and $py;
#   need_gnu_time  stops with how to install GNU time (/usr/bin/time) where it is missing;
#   median         the median of the numbers on stdin, one per line.

python_venv() {
    venv="bench/work/venv"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r bench/requirements.txt
    py="$venv/bin/python"
}

need_gnu_time() {
    [ -x /usr/bin/time ] || { echo "GNU time is needed: apt-get install time" >&2; exit 1; }
}

median() {
    sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# The wall seconds and peak resident KiB that GNU time's `-v` wrote to log $1, as "wall rss".
wall_and_rss() {
    awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; wall = s }
        /Maximum resident set size/ { rss = $2 } END { print wall, rss }' "$1"
}
