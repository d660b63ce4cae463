/**
 * What a training run records: one {@linkcode EpochRecord} per completed epoch (metrics.json),
 * an {@linkcode InterruptedRecord} after Ctrl-C, and the printed table of them.
 *
 * @module
 */
import { LOSS_TERMS, type LossParts } from "../model/loss/terms.ts";

/** Validation results of one epoch: the loss parts per image, and the scores. */
export interface ValRecord extends LossParts<number> {
  /** Class accuracy of the chosen window. */
  accuracy: number;
  /** Mean IoU of predicted vs true box. */
  meanIou: number;
  /** Correct class and IoU ≥ 0.5. */
  hitRate: number;
  /** Objectness precision over all windows. */
  precision: number;
  /** Objectness recall over all windows. */
  recall: number;
  /** Multi-digit validation: mAP at IoU 0.5 (COCO-style, 101-point). */
  map50?: number;
  /** Multi-digit validation: mAP averaged over IoU 0.50:0.05:0.95. */
  map?: number;
  /** Validation scenes. */
  count: number;
}

/** One line of metrics.json. */
export interface EpochRecord {
  /** 1-based epoch. */
  epoch: number;
  /** Seconds since the run started (training + validation, summed over resumed sessions). */
  time: number;
  /** Seconds of training in this epoch. */
  trainSeconds: number;
  /** Seconds of validation in this epoch. */
  valSeconds: number;
  /** Training images per second in this epoch. */
  imagesPerSecond: number;
  /** Learning rate at the end of the epoch. */
  lr: number;
  /** tfjs backend. */
  backend: string;
  /** Mean training loss parts per image over the epoch. */
  train: LossParts<number>;
  /** Validation results. */
  val: ValRecord;
  /**
   * Scores per test condition (`--val-conditions N`: N seeded pictures each, detected over the
   * image pyramid): mAP@0.5, mAP@[0.5:0.95] and, for written numbers, the share read right.
   */
  conditions?: Record<string, ConditionRecord>;
}

/** One test condition's scores after an epoch (../detection/condition_score.ts). */
export interface ConditionRecord {
  /** mAP at IoU 0.5. */
  map50: number;
  /** mAP over IoU 0.50:0.05:0.95. */
  map: number;
  /** Share of the written numbers read right, when the condition has numbers. */
  read?: number;
  /** Pictures scored. */
  pictures: number;
}

/**
 * The last line of metrics.json after an interrupted run (Ctrl-C): where in the epoch training
 * stopped. `--resume` continues from there and drops this record.
 */
export interface InterruptedRecord {
  /** The 1-based epoch that was interrupted. */
  epoch: number;
  /** Always true. */
  interrupted: true;
  /** Batches of this epoch already trained (the next one is batch `batch`, 0-based). */
  batch: number;
  /** Batches per epoch. */
  batches: number;
  /** Scenes of this epoch already trained. */
  seen: number;
  /** Adam steps taken since the start of the run. */
  steps: number;
  /** Seconds since the run started. */
  time: number;
  /** Mean training loss parts per image over the trained part of the epoch. */
  train: LossParts<number>;
}

/** The loss columns of the table: one per term, right under its values. */
const TERMS = LOSS_TERMS.map((t) => `  ${t.short}`.padEnd(6)).join(" ");
const HEADER = `epoch   time  img/s ${TERMS} | acc     IoU    hit     P      R`;
const DETECTOR_HEADER = `epoch   time  img/s ${TERMS} | mAP50   mAP            P      R`;

/** One row of the table (see {@linkcode formatTable}). */
export function row(r: EpochRecord): string {
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`.padStart(7);
  return [
    String(r.epoch).padStart(5),
    `${r.time.toFixed(0)}s`.padStart(6),
    r.imagesPerSecond.toFixed(0).padStart(6),
    ...LOSS_TERMS.map((t) => r.val[t.name].toFixed(3).padStart(6)),
    ...(r.val.map50 === undefined
      ? ["|" + pct(r.val.accuracy), r.val.meanIou.toFixed(3).padStart(6), pct(r.val.hitRate)]
      : ["|" + pct(r.val.map50), pct(r.val.map!), " ".repeat(6)]),
    r.val.precision.toFixed(3).padStart(6),
    r.val.recall.toFixed(3).padStart(6),
  ].join(" ");
}

/**
 * Formats epoch records as the printed table (header + one row per epoch); `detector` (default:
 * whether the records hold mAP) prints mAP@0.5 and mAP@[0.5:0.95] instead of accuracy, IoU and
 * hit rate.
 */
export function formatTable(
  records: readonly EpochRecord[],
  options: { detector?: boolean } = {},
): string {
  const detector = options.detector ?? records.some((r) => r.val.map50 !== undefined);
  return [detector ? DETECTOR_HEADER : HEADER, ...records.map(row)].join("\n");
}
