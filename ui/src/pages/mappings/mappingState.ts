/** Which state of a mapping to show: the read model's, or a mutation's newer answer. */

export interface MappingVersionLike {
  version: number;
  retiredAt?: string | null;
}

/**
 * A mutation answers from the mapping's own stream at once, the read model
 * follows within moments: show the answer while the read model has not caught
 * up with it (a newer version, or the same version retired), else the read.
 */
export function newestMapping<M extends MappingVersionLike>(
  read: M | null,
  answer: M | null,
): M | null {
  if (!answer) return read;
  if (!read) return answer;
  if (answer.version > read.version) return answer;
  if (answer.version === read.version && answer.retiredAt && !read.retiredAt)
    return answer;
  return read;
}
