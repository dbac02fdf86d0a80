import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('analytics', '0001_initial'),
        ('rewards', '0003_reward_restock_on'),
        ('tiers', '0003_member_window_idx'),
    ]

    operations = [
        migrations.CreateModel(
            name='BehaviourCohort',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('cohort', models.DateField()),
                ('month', models.DateField()),
                ('purchasers', models.PositiveIntegerField()),
                ('purchases', models.PositiveIntegerField()),
                ('sales', models.DecimalField(decimal_places=2, max_digits=16)),
                ('program', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='programs.program')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('program', 'cohort', 'month'), name='behaviour_cohort_once')],
            },
        ),
        migrations.CreateModel(
            name='BehaviourDailyMix',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('gap', models.PositiveSmallIntegerField()),
                ('purchases', models.PositiveIntegerField()),
                ('sales', models.DecimalField(decimal_places=2, max_digits=16)),
                ('program', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='programs.program')),
                ('tier', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tiers.tier')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('program', 'day', 'tier', 'gap'), name='behaviour_daily_mix_once', nulls_distinct=False)],
            },
        ),
        migrations.CreateModel(
            name='BehaviourDailyReward',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('redemptions', models.PositiveIntegerField()),
                ('cancelled', models.PositiveIntegerField()),
                ('points', models.BigIntegerField(help_text='Points spent, cancelled redemptions left out.')),
                ('program', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='programs.program')),
                ('reward', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='rewards.reward')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('program', 'day', 'reward'), name='behaviour_reward_once')],
            },
        ),
        migrations.CreateModel(
            name='BehaviourMemberMonth',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('member_id', models.UUIDField()),
                ('month', models.DateField(help_text='The first day of the local month.')),
                ('cohort', models.DateField(help_text='The first day of the local month the member enrolled in.')),
                ('purchases', models.PositiveIntegerField()),
                ('sales', models.DecimalField(decimal_places=2, max_digits=16)),
                ('last_day', models.DateField(help_text="The local day of the member's last purchase in the month.")),
                ('program', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='programs.program')),
            ],
            options={
                'indexes': [models.Index(fields=['program', 'month'], include=('member_id', 'last_day'), name='behaviour_member_month_idx')],
                'constraints': [models.UniqueConstraint(fields=('program', 'member_id', 'month'), name='behaviour_member_month_once')],
            },
        ),
        migrations.CreateModel(
            name='BehaviourMonth',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('month', models.DateField()),
                ('as_of', models.DateField(help_text="The month's last day, or the day of the rollup for the current month.")),
                ('active_30', models.PositiveIntegerField(default=0)),
                ('active_90', models.PositiveIntegerField(default=0)),
                ('active_90_before', models.PositiveIntegerField(default=0, help_text='Active (90 days) a month before as_of.')),
                ('retained_90', models.PositiveIntegerField(default=0, help_text='Of active_90_before, still active at as_of.')),
                ('purchasers', models.PositiveIntegerField(default=0)),
                ('repeat_purchasers', models.PositiveIntegerField(default=0, help_text='Had bought before, or twice this month.')),
                ('purchases', models.PositiveIntegerField(default=0)),
                ('sales', models.DecimalField(decimal_places=2, default=0, max_digits=16)),
                ('program', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='programs.program')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('program', 'month'), name='behaviour_month_once')],
            },
        ),
        migrations.CreateModel(
            name='BehaviourTierMonth',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('month', models.DateField()),
                ('entered', models.PositiveIntegerField(default=0)),
                ('left', models.PositiveIntegerField(default=0)),
                ('upgrades', models.PositiveIntegerField(default=0, help_text='Entered from a lower tier.')),
                ('downgrades', models.PositiveIntegerField(default=0, help_text='Entered from a higher tier.')),
                ('program', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='programs.program')),
                ('tier', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tiers.tier')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('program', 'month', 'tier'), name='behaviour_tier_month_once', nulls_distinct=False)],
            },
        ),
    ]
