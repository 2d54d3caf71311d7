/*
 * Quarkus build step of our stand-in for Apicurio's config-index deployment module (see pom.xml
 * beside src/ for why it exists): finds the registry's dynamic settings and gives their list to
 * the runtime recorder, which Apicurio's own code then injects as a DynamicConfigPropertyList.
 */
package dev.panacea.apicurio.configindex;

import java.util.ArrayList;
import java.util.List;

import org.jboss.jandex.AnnotationInstance;
import org.jboss.jandex.AnnotationValue;
import org.jboss.jandex.DotName;
import org.jboss.jandex.FieldInfo;
import org.jboss.jandex.Type;

import apicurio.common.app.components.config.index.DynamicPropertiesInfoRecorder;
import io.apicurio.common.apps.config.DynamicConfigPropertyDef;
import io.apicurio.common.apps.config.DynamicConfigPropertyList;
import io.quarkus.arc.deployment.BeanDiscoveryFinishedBuildItem;
import io.quarkus.arc.deployment.SyntheticBeanBuildItem;
import io.quarkus.arc.processor.InjectionPointInfo;
import io.quarkus.deployment.annotations.BuildProducer;
import io.quarkus.deployment.annotations.BuildStep;
import io.quarkus.deployment.annotations.ExecutionTime;
import io.quarkus.deployment.annotations.Record;

public class DynamicConfigIndexProcessor {

    private static final DotName CONFIG_PROPERTY =
            DotName.createSimple("org.eclipse.microprofile.config.inject.ConfigProperty");
    private static final DotName DYNAMIC = DotName.createSimple("io.apicurio.common.apps.config.Dynamic");

    @BuildStep
    @Record(ExecutionTime.RUNTIME_INIT)
    void registerDynamicProperties(
            DynamicPropertiesInfoRecorder recorder,
            BeanDiscoveryFinishedBuildItem beanDiscovery,
            BuildProducer<SyntheticBeanBuildItem> syntheticBeans) throws ClassNotFoundException {
        List<DynamicConfigPropertyDef> definitions = new ArrayList<>();
        for (InjectionPointInfo injectionPoint : beanDiscovery.getInjectionPoints()) {
            DynamicConfigPropertyDef definition = definitionOf(injectionPoint);
            if (definition != null) {
                definitions.add(definition);
            }
        }

        // Created at runtime init: the recorder's list is replayed when the registry starts.
        syntheticBeans.produce(SyntheticBeanBuildItem.configure(DynamicConfigPropertyList.class)
                .runtimeValue(recorder.initializePropertiesInfo(definitions))
                .unremovable()
                .setRuntimeInit()
                .done());
    }

    /** The definition of a `@ConfigProperty @Dynamic Supplier<T>` field, or null for any other injection point. */
    private static DynamicConfigPropertyDef definitionOf(InjectionPointInfo injectionPoint)
            throws ClassNotFoundException {
        AnnotationInstance configProperty = injectionPoint.getRequiredQualifier(CONFIG_PROPERTY);
        if (configProperty == null || !injectionPoint.isField()) {
            return null;
        }
        FieldInfo field = injectionPoint.getTarget().asField();
        AnnotationInstance dynamic = field.annotation(DYNAMIC);
        if (dynamic == null) {
            return null;
        }

        String name = configProperty.value("name").asString();
        AnnotationValue defaultValue = configProperty.value("defaultValue");
        // The registry falls back to the default when no one has changed a setting; without one
        // there is nothing to fall back to, and Apicurio's own module refuses the build the same way.
        if (defaultValue == null) {
            throw new IllegalStateException("dynamic configuration property " + name + " has no default value");
        }
        // The field is a Supplier<T>; T is the setting's type.
        Type valueType = injectionPoint.getRequiredType().asParameterizedType().arguments().get(0);
        DynamicConfigPropertyDef definition = new DynamicConfigPropertyDef(
                name, Class.forName(valueType.name().toString()), defaultValue.asString());

        AnnotationValue label = dynamic.value("label");
        if (label != null) {
            definition.setLabel(label.asString());
        }
        AnnotationValue description = dynamic.value("description");
        if (description != null) {
            definition.setDescription(description.asString());
        }
        AnnotationValue requires = dynamic.value("requires");
        if (requires != null) {
            definition.setRequires(requires.asStringArray());
        }
        return definition;
    }
}
