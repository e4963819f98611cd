import React from 'react';
import type { QueryEditorProps } from '@grafana/data';
import { getTemplateSrv } from '@grafana/runtime';
import {
  Combobox,
  ComboboxOption,
  InlineField,
  InlineFieldRow,
  InlineSwitch,
  Input,
  MultiCombobox,
  RadioButtonGroup,
} from '@grafana/ui';
import {
  COMPARE_PARTS,
  type CompareQuery,
  defaultQuery,
  EVENT_LEVELS,
  EventLevel,
  ModelScope,
  Persistence,
  QUERY_TYPES,
  QUERY_TYPE_SPECS,
  QueryType,
} from '../../core/query';
import { isStreamable } from '../../core/query/live';
import type { MonitorDataSource } from '../datasource';
import type { MonitorDataQuery, MonitorOptions } from '../types';
import { SegmentEditor } from './SegmentEditor';
import { useAsyncOptions } from './useAsyncOptions';

type Props = QueryEditorProps<MonitorDataSource, MonitorDataQuery, MonitorOptions>;

/** The fields a query of any type may carry; which ones apply is decided by QUERY_TYPE_SPECS. */
type EditableQuery = MonitorDataQuery &
  Partial<ModelScope> &
  Persistence & { features?: string[]; metric?: string; minLevel?: EventLevel; estimate?: boolean } & Partial<
    Pick<CompareQuery, 'champion' | 'challenger' | 'tolerance' | 'part'>
  >;

const LABEL_WIDTH = 14;

const TYPE_OPTIONS: Array<ComboboxOption<QueryType>> = QUERY_TYPES.map((type) => ({
  value: type,
  label: QUERY_TYPE_SPECS[type].label,
  description: QUERY_TYPE_SPECS[type].description,
}));

/** Dashboard variables offered in every picker, so a dashboard can switch model, version or feature. */
function variableOptions(): Array<ComboboxOption<string>> {
  return getTemplateSrv()
    .getVariables()
    .map((variable) => ({ value: `$${variable.name}`, label: `$${variable.name}`, description: 'Dashboard variable' }));
}

const toOptions = (values: string[]): Array<ComboboxOption<string>> => values.map((value) => ({ value, label: value }));

function numberOrUndefined(text: string): number | undefined {
  return text.trim() === '' || !Number.isFinite(Number(text)) ? undefined : Number(text);
}

/**
 * One editor for every query type: the type picker, then the sections the type's spec asks for — model scope
 * (model, version, baseline), features, metric, bucket, sample fraction, segment filter and persistence.
 */
export function QueryEditor({ query: rawQuery, datasource, onChange, onRunQuery }: Props) {
  const query = rawQuery as EditableQuery;
  const spec = QUERY_TYPE_SPECS[query.queryType] ?? QUERY_TYPE_SPECS.drift;
  const model = query.model ?? '';
  const comparing = query.queryType === 'compare';
  const showVersion = (spec.scoped && !comparing) || query.queryType === 'features';

  const models = useAsyncOptions(spec.needsModel ? 'models' : null, async () =>
    toOptions((await datasource.getModels()).models.map((summary) => summary.name))
  );
  const versions = useAsyncOptions((showVersion || comparing) && model ? `versions:${model}` : null, async () =>
    toOptions(await datasource.getVersions(model))
  );
  const baselines = useAsyncOptions(spec.scoped && model ? `baselines:${model}` : null, async () =>
    (await datasource.getBaselines(model)).map((baseline) => ({
      value: baseline.id,
      label: baseline.id,
      description: `created ${baseline.createdAt}${baseline.version ? `, version ${baseline.version}` : ''}`,
    }))
  );
  const features = useAsyncOptions(
    spec.features && model ? `features:${model}:${query.version ?? ''}` : null,
    async () =>
      (await datasource.getFeatures(model, query.version)).map((feature) => ({
        value: feature.name,
        label: feature.name,
        description: feature.kind,
      }))
  );

  const update = (changes: Partial<EditableQuery>, run = true) => {
    onChange({ ...query, ...changes } as MonitorDataQuery);
    if (run) {
      onRunQuery();
    }
  };
  const changeType = (type: QueryType) => {
    const next = defaultQuery(type, { ...query, refId: query.refId });
    onChange({ ...next, datasource: query.datasource } as MonitorDataQuery);
    onRunQuery();
  };

  return (
    <div data-testid="mlmon-query-editor">
      <InlineFieldRow>
        <InlineField label="Query type" labelWidth={LABEL_WIDTH} tooltip={spec.description}>
          <Combobox
            id="mlmon-query-type"
            width={26}
            options={TYPE_OPTIONS}
            value={query.queryType}
            onChange={(option) => changeType(option.value)}
          />
        </InlineField>
        {spec.needsModel && (
          <InlineField label="Model" labelWidth={LABEL_WIDTH} invalid={!model} error={models.error}>
            <Combobox
              id="mlmon-model"
              width={26}
              createCustomValue
              loading={models.loading}
              options={[...models.options, ...variableOptions()]}
              value={model || null}
              placeholder="Choose a model"
              onChange={(option) => update({ model: option.value, features: undefined }, false)}
            />
          </InlineField>
        )}
        {showVersion && (
          <InlineField
            label="Version"
            labelWidth={LABEL_WIDTH}
            error={versions.error}
            invalid={Boolean(versions.error)}
          >
            <Combobox
              id="mlmon-version"
              width={20}
              isClearable
              createCustomValue
              loading={versions.loading}
              options={[...versions.options, ...variableOptions()]}
              value={query.version || null}
              placeholder="All versions"
              onChange={(option) => update({ version: option?.value || undefined })}
            />
          </InlineField>
        )}
        {spec.scoped && (
          <InlineField
            label="Baseline"
            labelWidth={LABEL_WIDTH}
            error={baselines.error}
            invalid={Boolean(baselines.error)}
          >
            <Combobox
              id="mlmon-baseline"
              width={20}
              isClearable
              loading={baselines.loading}
              options={baselines.options}
              value={query.baseline || null}
              placeholder="Latest"
              onChange={(option) => update({ baseline: option?.value || undefined })}
            />
          </InlineField>
        )}
      </InlineFieldRow>
      {comparing && (
        <InlineFieldRow>
          {(['champion', 'challenger'] as const).map((side) => (
            <InlineField
              key={side}
              label={side === 'champion' ? 'Champion' : 'Challenger'}
              labelWidth={LABEL_WIDTH}
              invalid={!query[side]}
              tooltip={
                side === 'champion'
                  ? 'The version serving the traffic'
                  : 'The version compared with it, in shadow (same request ids) or on a split of the traffic'
              }
            >
              <Combobox
                id={`mlmon-${side}`}
                width={20}
                createCustomValue
                loading={versions.loading}
                options={[...versions.options, ...variableOptions()]}
                value={query[side] || null}
                placeholder="Choose a version"
                onChange={(option) => update({ [side]: option.value })}
              />
            </InlineField>
          ))}
          <InlineField
            label="Part"
            labelWidth={LABEL_WIDTH}
            tooltip="Only the prediction distance, the agreement of shadow pairs, performance (realized and estimated) or latency and errors; empty: all"
          >
            <Combobox
              id="mlmon-part"
              width={18}
              isClearable
              options={toOptions([...COMPARE_PARTS])}
              value={query.part ?? null}
              placeholder="All"
              onChange={(option) => update({ part: (option?.value as CompareQuery['part']) || undefined })}
            />
          </InlineField>
          <InlineField
            label="Tolerance"
            labelWidth={LABEL_WIDTH}
            tooltip="Regressors: two predictions of one request agree within this difference; empty: 0.1 standard deviations of the baseline's predictions"
          >
            <Input
              id="mlmon-tolerance"
              type="number"
              width={10}
              min={0}
              placeholder="0.1 σ"
              defaultValue={query.tolerance ?? ''}
              onBlur={(event) => update({ tolerance: numberOrUndefined(event.currentTarget.value) })}
            />
          </InlineField>
        </InlineFieldRow>
      )}
      {(spec.features || spec.metrics) && (
        <InlineFieldRow>
          {spec.features && (
            <InlineField
              label="Features"
              labelWidth={LABEL_WIDTH}
              error={features.error}
              invalid={Boolean(features.error)}
            >
              <MultiCombobox
                id="mlmon-features"
                width="auto"
                minWidth={26}
                createCustomValue
                loading={features.loading}
                options={[...features.options, ...variableOptions()]}
                value={query.features ?? []}
                placeholder="All features"
                onChange={(options) => {
                  const names = options.map((option) => option.value);
                  update({ features: names.length > 0 ? names : undefined });
                }}
              />
            </InlineField>
          )}
          {spec.metrics && (
            <InlineField label="Metric" labelWidth={LABEL_WIDTH}>
              <Combobox
                id="mlmon-metric"
                width={20}
                options={toOptions([...spec.metrics])}
                value={query.metric ?? spec.defaultMetric}
                placeholder={spec.defaultMetric ?? "the model's primary score"}
                onChange={(option) => update({ metric: option.value })}
              />
            </InlineField>
          )}
          {query.queryType === 'performance' && (
            <InlineField
              label="Estimate"
              labelWidth={LABEL_WIDTH}
              tooltip="Estimate the metric from the calibrated scores before labels arrive (CBPE), with a 95 % band, beside the realized values: binary classifiers whose baseline was built with --score and --label"
            >
              <InlineSwitch
                id="mlmon-estimate"
                value={query.estimate ?? false}
                onChange={(event) => update({ estimate: event.currentTarget.checked || undefined })}
              />
            </InlineField>
          )}
        </InlineFieldRow>
      )}
      {spec.scoped && (
        <InlineFieldRow>
          <InlineField
            label="Bucket"
            labelWidth={LABEL_WIDTH}
            tooltip="e.g. 5m, 1h, 1d; empty uses the panel's interval"
          >
            <Input
              id="mlmon-bucket"
              width={12}
              placeholder="auto"
              defaultValue={query.bucket ?? ''}
              onBlur={(event) => update({ bucket: event.currentTarget.value.trim() || undefined })}
            />
          </InlineField>
          {isStreamable(query) && (
            <InlineField
              label="Live"
              labelWidth={LABEL_WIDTH}
              tooltip="On a dashboard whose range ends now, new points stream in as records arrive (Grafana Live); off: the panel is queried on refresh only"
            >
              <InlineSwitch
                id="mlmon-live"
                value={query.live !== false}
                onChange={(event) => update({ live: event.currentTarget.checked ? undefined : false })}
              />
            </InlineField>
          )}
          <InlineField label="Sample" labelWidth={LABEL_WIDTH} tooltip="Fraction of rows read, in (0, 1]">
            <Input
              id="mlmon-sample-fraction"
              type="number"
              width={10}
              min={0}
              max={1}
              step={0.05}
              placeholder="1"
              defaultValue={query.sampleFraction ?? ''}
              onBlur={(event) => update({ sampleFraction: numberOrUndefined(event.currentTarget.value) })}
            />
          </InlineField>
          {spec.persistence && (
            <InlineField
              label="Persistence"
              labelWidth={LABEL_WIDTH}
              tooltip="A level counts only when reached in this many consecutive buckets"
            >
              <Input
                id="mlmon-persistence"
                type="number"
                width={10}
                min={1}
                step={1}
                defaultValue={query.persistence ?? 1}
                onBlur={(event) => update({ persistence: numberOrUndefined(event.currentTarget.value) ?? 1 })}
              />
            </InlineField>
          )}
          {query.queryType === 'events' && (
            <InlineField
              label="Events from"
              labelWidth={LABEL_WIDTH}
              tooltip="The lowest drift level (after persistence) that opens a drift event"
            >
              <RadioButtonGroup
                options={EVENT_LEVELS.map((level) => ({ value: level, label: level }))}
                value={query.minLevel ?? 'warning'}
                onChange={(minLevel) => update({ minLevel: minLevel === 'warning' ? undefined : minLevel })}
              />
            </InlineField>
          )}
          {spec.alertFields.length > 0 && (
            <InlineField
              label="Alert on"
              labelWidth={LABEL_WIDTH}
              tooltip="The number an alert rule evaluates: the metric's value, its severity level 0–3 (after persistence), or the noise floor"
            >
              <RadioButtonGroup
                options={spec.alertFields.map((field) => ({ value: field, label: field }))}
                value={query.alertOn ?? 'value'}
                onChange={(alertOn) => update({ alertOn: alertOn === 'value' ? undefined : alertOn })}
              />
            </InlineField>
          )}
        </InlineFieldRow>
      )}
      {spec.scoped && (
        <SegmentEditor
          segment={query.segment ?? []}
          onChange={(segment) => update({ segment: segment.length ? segment : undefined })}
        />
      )}
    </div>
  );
}
