import React from 'react';
import { Button, Combobox, InlineField, InlineFieldRow, Input } from '@grafana/ui';
import { SEGMENT_OPERATORS, SegmentCondition, SegmentOperator } from '../../core/query';

interface Props {
  segment: SegmentCondition[];
  onChange: (segment: SegmentCondition[]) => void;
}

const OPERATOR_OPTIONS = SEGMENT_OPERATORS.map((operator) => ({ value: operator, label: operator }));

/** A number typed as a value is sent as a number (so `score > 0.5` compares numerically), anything else as text. */
export function parseSegmentValue(text: string): string | number | boolean {
  if (text === 'true' || text === 'false') {
    return text === 'true';
  }
  return text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : text;
}

/** The segment filter: conditions on prediction columns, AND-ed. */
export function SegmentEditor({ segment, onChange }: Props) {
  const replace = (index: number, changes: Partial<SegmentCondition>) =>
    onChange(segment.map((condition, i) => (i === index ? { ...condition, ...changes } : condition)));
  return (
    <>
      {segment.map((condition, index) => (
        <InlineFieldRow key={index}>
          <InlineField label={index === 0 ? 'Segment' : 'and'} labelWidth={14}>
            <Input
              aria-label={`Segment column ${index + 1}`}
              width={20}
              placeholder="column"
              defaultValue={condition.column}
              onBlur={(event) => replace(index, { column: event.currentTarget.value.trim() })}
            />
          </InlineField>
          <Combobox
            aria-label={`Segment operator ${index + 1}`}
            width={8}
            options={OPERATOR_OPTIONS}
            value={condition.operator}
            onChange={(option) => replace(index, { operator: option.value as SegmentOperator })}
          />
          <Input
            aria-label={`Segment value ${index + 1}`}
            width={20}
            placeholder="value"
            defaultValue={String(condition.value)}
            onBlur={(event) => replace(index, { value: parseSegmentValue(event.currentTarget.value) })}
          />
          <Button
            aria-label={`Remove segment condition ${index + 1}`}
            variant="secondary"
            icon="trash-alt"
            onClick={() => onChange(segment.filter((_, i) => i !== index))}
          />
        </InlineFieldRow>
      ))}
      <Button
        variant="secondary"
        size="sm"
        icon="plus"
        onClick={() => onChange([...segment, { column: '', operator: '=', value: '' }])}
      >
        Add segment condition
      </Button>
    </>
  );
}
