// "Did you mean …?" for misspelt keys and kinds. Optimal-string-alignment distance (Levenshtein
// plus adjacent transpositions, so `verison` is one edit from `version`), case-insensitive.
// Small enough that a dependency would not pay for itself.

/** The closest candidate within a typo's reach of `word`, or undefined. Ties go to the first. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = distance(w, c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  // Beyond a third of the word, a "suggestion" is a guess that misleads more than it helps.
  const reach = Math.max(1, Math.floor(Math.max(w.length, best?.length ?? 0) / 3));
  return bestDistance <= reach ? best : undefined;
}

function distance(a: string, b: string): number {
  // rows[i][j] = distance between a[0..i) and b[0..j)
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const prev = rows[i - 1]!;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      }
      row.push(d);
    }
    rows.push(row);
  }
  return rows[a.length]![b.length]!;
}
